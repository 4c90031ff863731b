"""Data that arrives over time, kept as numbered spans: `workspace/data/spans/span-<N>/data.csv`.

Each span is cleaned on the way in (the same cleaning as `penguins run`), appears atomically by
a rename, and records a digest of its cleaned examples, so the same data is never ingested twice,
however the file holding it is named or written.
ExampleGen reads the spans through its `span-{SPAN}` pattern.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import json
import tempfile
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from components.features import FeatureSpec
from pipeline.intake.cleaning import content_digest, write_clean_csv
from pipeline.intake.raw_csv import DataError, data_records, raw_records, read_header
from pipeline.intake.sources import CLEAN_FILE, bundled_penguins_csv, raw_files
from serving.store.atomic import staged_directory, write_json_atomically

SPAN_PREFIX = "span-"
SPAN_PATTERN = f"{SPAN_PREFIX}{{SPAN}}/{CLEAN_FILE}"
RECORD_FILE = "ingested.json"
REJECTED_FILE = "rejected.json"


class DuplicateSpanError(DataError):
    """The source was ingested before; the message names the span that holds it."""

    def __init__(self, message: str, span: Span):
        super().__init__(message)
        self.span = span


@dataclasses.dataclass(frozen=True)
class Span:
    number: int
    path: Path
    rows: int
    source: str
    digest: str | None  # of the cleaned examples; None for spans ingested before it was recorded
    # Labeled logged requests, made a span by a quality-dip retrain (pipeline/retraining/quality.py).
    feedback: bool = False


def list_spans(spans_root: Path) -> list[Span]:
    spans = []
    if spans_root.is_dir():
        for folder in spans_root.iterdir():
            number = folder.name.removeprefix(SPAN_PREFIX)
            if folder.name.startswith(SPAN_PREFIX) and number.isdigit() and (folder / RECORD_FILE).is_file():
                record = json.loads((folder / RECORD_FILE).read_text())
                spans.append(
                    Span(
                        int(number),
                        folder,
                        record["rows"],
                        record["source"],
                        record.get("content_digest"),
                        record.get("feedback", False),
                    )
                )
    return sorted(spans, key=lambda span: span.number)


def rejected_spans(spans_root: Path) -> dict[int, dict]:
    """Spans a retraining run rejected, with why; they stay on disk for a person to look at."""
    return {
        span.number: json.loads((span.path / REJECTED_FILE).read_text())
        for span in list_spans(spans_root)
        if (span.path / REJECTED_FILE).is_file()
    }


def mark_rejected(span: Span, run_id: str, reason: str, checks: dict) -> None:
    """Marks `span` rejected by run `run_id`; `checks` says what refused it (anomalies, drift, schema)."""
    record = {
        "run_id": run_id,
        "reason": reason,
        **checks,
        "rejected_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomically(span.path / REJECTED_FILE, record)


def clear_rejection(span: Span) -> None:
    (span.path / REJECTED_FILE).unlink(missing_ok=True)


# Refuses (raises DataError) cleaned files, named by their source, that would leave a split empty.
SplitCheck = Callable[[list[Path], str], None]


def span_holding(spans: list[Span], digest: str) -> Span | None:
    """The span whose cleaned examples have this digest, if any."""
    return next(
        (span for span in spans if digest == (span.digest or content_digest(span.path / CLEAN_FILE))), None
    )


def ingest(
    files: list[Path],
    source: str,
    spans_root: Path,
    spec: FeatureSpec,
    *,
    check_splits: SplitCheck,
    number: int | None = None,
    feedback: bool = False,
) -> Span:
    """Cleans `files` into span `number` (default: the next). Refuses data already ingested, or that
    would leave a split of the span without examples (each span is split on its own, and retraining
    reads its splits); leaves nothing on failure."""
    existing = list_spans(spans_root)
    if number is None:
        number = existing[-1].number + 1 if existing else 1
    with staged_directory(spans_root / f"{SPAN_PREFIX}{number}") as staging:
        rows = write_clean_csv(files, staging / CLEAN_FILE, spec)
        digest = content_digest(staging / CLEAN_FILE)
        holder = span_holding(existing, digest)
        if holder is not None:
            raise DuplicateSpanError(
                f"{source}: this data was already ingested as span {holder.number} (from {holder.source}); "
                "nothing was added",
                holder,
            )
        check_splits([staging / CLEAN_FILE], source)
        record = {
            "source": source,
            "content_digest": digest,
            "feedback": feedback,
            "rows": rows,
            "ingested_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        write_json_atomically(staging / RECORD_FILE, record)
    return Span(number, spans_root / f"{SPAN_PREFIX}{number}", rows, source, digest, feedback)


def write_year_subset(raw_csv: Path, year: int, destination: Path, year_column: str = "year") -> Path:
    """The rows of one year of a raw file, to replay data arriving year by year."""
    with closing(raw_records(raw_csv)) as records:
        header = read_header(raw_csv, records, [year_column])
        at = header.index(year_column)
        rows = [
            row
            for _, row in data_records(raw_csv, records, header)
            if len(row) > at and row[at].strip() == str(year)
        ]
    if not rows:
        raise DataError(f"{raw_csv}: no rows for year {year} in column '{year_column}'")
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return destination


def ingest_source(
    features: FeatureSpec,
    spans_root: Path,
    source: Path | None,
    year: int | None,
    *,
    check_splits: SplitCheck,
) -> tuple[Span, str]:
    """`penguins ingest`: a raw file or folder (None: the bundled data), or a year of it, as the next span."""
    files = [bundled_penguins_csv()] if source is None else raw_files(source)
    label = "bundled penguins data" if source is None else str(source)
    with tempfile.TemporaryDirectory() as scratch:
        if year is not None:
            if len(files) != 1:
                raise DataError(f"{source}: --year needs a single CSV file, found {len(files)}")
            files = [write_year_subset(files[0], year, Path(scratch) / f"{year}.csv")]
            label += f", year {year}"
        return ingest(files, label, spans_root, features, check_splits=check_splits), label
