"""Any number of synthetic rows in the raw CSV format, for scale tests (`penguins synth`).

Each label class gets its own distributions fitted to the real data: a multivariate normal over
the numeric features (so bill, flipper and mass stay correlated as in real birds), the
frequency of every value of every other column (island, sex, year, missing-value markers
included), and how often each measurement is missing. Numbers are written with the precision
and within the range seen in the real data, so synthetic rows pass the same schema. Rows are
drawn and written in chunks: memory stays flat whatever the size.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import numpy as np

from components.features import FeatureSpec
from pipeline.intake.raw_csv import DataError, data_records, raw_records, read_header
from pipeline.intake.sources import raw_files
from serving.store.atomic import atomic_file

CHUNK_ROWS = 50_000
OUTPUT_FILE = "synthetic.csv"


@dataclasses.dataclass(frozen=True)
class ClassModel:
    """The distributions of one label class."""

    share: float
    mean: np.ndarray
    covariance: np.ndarray
    missing: np.ndarray  # per numeric column: the fraction of rows without a value
    others: dict[str, tuple[list[str], np.ndarray]]  # column -> (values, probabilities)


@dataclasses.dataclass(frozen=True)
class DataModel:
    header: list[str]
    label: str
    numeric: tuple[str, ...]
    missing_marker: str  # written for a missing measurement, one the config reads as missing
    decimals: tuple[int, ...]
    low: np.ndarray
    high: np.ndarray
    classes: dict[str, ClassModel]


def _decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def fit(path: Path, features: FeatureSpec) -> DataModel:
    """Per-class distributions of a raw CSV (small: the whole file is read)."""
    label, numeric = features.label, features.numeric
    with closing(raw_records(path)) as records:
        header = read_header(path, records, (label, *numeric))
        rows = [dict(zip(header, row, strict=False)) for _, row in data_records(path, records, header)]
    if not rows:
        raise DataError(f"{path}: the file has a header but no rows; expected rows to fit a synthetic model")
    absent = {"", *features.missing_values}
    values = np.array(
        [[np.nan if row[c] in absent else float(row[c]) for c in numeric] for row in rows], dtype=float
    )
    decimals = tuple(
        max((_decimals(row[c]) for row in rows if row[c] not in absent), default=0) for c in numeric
    )
    others = [c for c in header if c != label and c not in numeric]
    labels = np.array([row[label] for row in rows])
    classes = {}
    for name in sorted(set(labels) - absent):
        mine = labels == name
        complete = values[mine][~np.isnan(values[mine]).any(axis=1)]
        if len(complete) < len(numeric) + 1:
            raise DataError(f"{path}: too few complete rows of {label}={name!r} to fit its distribution")
        distributions = {}
        for column in others:
            kinds, counts = np.unique(
                [row[column] for row, m in zip(rows, mine, strict=True) if m], return_counts=True
            )
            distributions[column] = (list(kinds), counts / counts.sum())
        classes[name] = ClassModel(
            share=mine.sum() / len(rows),
            mean=complete.mean(axis=0),
            covariance=np.cov(complete, rowvar=False),
            missing=np.isnan(values[mine]).mean(axis=0),
            others=distributions,
        )
    shares = sum(c.share for c in classes.values())
    classes = {k: dataclasses.replace(c, share=c.share / shares) for k, c in classes.items()}
    return DataModel(
        header,
        label,
        numeric,
        # Cleaning reads any configured marker as missing: the first is written, else an empty field.
        next(iter(features.missing_values), ""),
        decimals,
        np.nanmin(values, axis=0),
        np.nanmax(values, axis=0),
        classes,
    )


def _chunk(model: DataModel, size: int, rng: np.random.Generator) -> list[list[str]]:
    names = list(model.classes)
    counts = rng.multinomial(size, [model.classes[n].share for n in names])
    rows: list[list[str]] = []
    for name, count in zip(names, counts, strict=True):
        spec = model.classes[name]
        numbers = np.clip(rng.multivariate_normal(spec.mean, spec.covariance, count), model.low, model.high)
        absent = rng.random((count, len(model.numeric))) < spec.missing
        columns: dict[str, list[str]] = {model.label: [name] * count}
        for index, column in enumerate(model.numeric):
            digits = model.decimals[index]
            columns[column] = [
                model.missing_marker if gone else f"{value:.{digits}f}"
                for value, gone in zip(numbers[:, index], absent[:, index], strict=True)
            ]
        for column, (kinds, probabilities) in spec.others.items():
            columns[column] = list(rng.choice(kinds, size=count, p=probabilities))
        rows.extend(zip(*(columns[c] for c in model.header), strict=True))
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def write_synthetic_csv(model: DataModel, rows: int, destination: Path, seed: int = 0) -> Path:
    """Writes `rows` synthetic rows to `destination` atomically, one chunk in memory at a time."""
    rng = np.random.default_rng(seed)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(destination, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(model.header)
        for start in range(0, rows, CHUNK_ROWS):
            writer.writerows(_chunk(model, min(CHUNK_ROWS, rows - start), rng))
    return destination


def synthesize(
    features: FeatureSpec, source: str, rows: int, out_dir: Path, seed: int
) -> tuple[Path, DataModel, Path]:
    """Fits one real raw CSV file and writes `rows` synthetic rows: returns the file, the fit, the source."""
    files: Sequence[Path] = raw_files(source)
    if len(files) != 1:
        raise DataError(f"{source}: synth fits one raw CSV file, found {len(files)}")
    model = fit(files[0], features)
    return write_synthetic_csv(model, rows, out_dir / OUTPUT_FILE, seed), model, files[0]
