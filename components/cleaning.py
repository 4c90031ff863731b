"""Cleaning of raw CSV files into the form the pipeline ingests.

Raw files say "NA" for missing values and write whole-number measurements without a decimal
point, which would make ExampleGen infer an integer column for a float feature. Cleaning is
streamed row by row, so memory stays flat whatever the file size, and it stops at the first
problem with the file, row and column named.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path


class DataError(ValueError):
    """Raw data that cannot be cleaned; the message names the file, row and column."""


@dataclasses.dataclass(frozen=True)
class CleaningSpec:
    """Which columns the cleaned data keeps and how to read them."""

    label: str
    numeric: Sequence[str]
    categorical: Sequence[str]
    missing_values: Sequence[str] = ("NA",)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.label, *self.numeric, *self.categorical)


def find_csv_files(source: Path) -> list[Path]:
    """A CSV file, or every *.csv file in a folder, in name order."""
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.glob("*.csv") if p.is_file())
        if files:
            return files
        raise DataError(f"{source}: the folder holds no .csv files; expected one or more raw CSV files")
    raise DataError(f"{source}: no such file or folder; expected a raw CSV file or a folder of them")


def _header(path: Path, reader: Iterator[list[str]], spec: CleaningSpec) -> dict[str, int]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise DataError(
            f"{path}: the file is empty; expected a header row naming the columns {list(spec.columns)}"
        ) from None
    missing = [c for c in spec.columns if c not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {missing}; expected columns {list(spec.columns)}, found {header}"
        )
    return {name: header.index(name) for name in spec.columns}


def _clean_number(text: str, path: Path, line: int, column: str) -> str:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise DataError(
            f"{path}, row {line}, column '{column}': {text!r} is not a number; "
            "expected a finite number, or NA or an empty field when not recorded"
        )
    return repr(number)


def clean_rows(path: Path, spec: CleaningSpec) -> Iterator[list[str]]:
    """Yields the cleaned rows of one raw file, in the order of `spec.columns`."""
    missing = set(spec.missing_values) | {""}
    numeric = set(spec.numeric)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        positions = _header(path, reader, spec)
        rows = 0
        for row in reader:
            line = reader.line_num
            if not row:
                continue
            if max(positions.values()) >= len(row):
                raise DataError(
                    f"{path}, row {line}: {len(row)} fields; expected at least "
                    f"{max(positions.values()) + 1} as in the header"
                )
            cleaned = []
            for column in spec.columns:
                value = row[positions[column]].strip()
                if value in missing:
                    cleaned.append("")
                elif column in numeric:
                    cleaned.append(_clean_number(value, path, line, column))
                elif "\n" in value or "\r" in value:
                    # ExampleGen reads the cleaned file line by line, in ranges spread over workers.
                    raise DataError(
                        f"{path}, row {line}, column '{column}': {value!r} spans several lines; "
                        "expected a value on one line"
                    )
                else:
                    cleaned.append(value)
            rows += 1
            yield cleaned
        if rows == 0:
            raise DataError(f"{path}: the file has a header but no data rows; expected one row per example")


def fingerprint(files: Iterable[Path], spec: CleaningSpec) -> str:
    """A digest of the raw bytes and the cleaning spec: equal digests mean equal cleaned data."""
    digest = hashlib.sha256(repr(dataclasses.astuple(spec)).encode())
    for path in files:
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def write_clean_csv(files: Sequence[Path], destination: Path, spec: CleaningSpec) -> int:
    """Cleans `files` into one CSV at `destination`, atomically; returns the number of rows.

    The file appears only once it is complete, so an interrupted or failed clean leaves nothing
    that a later run could mistake for good data.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    rows = 0
    try:
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(spec.columns)
            for path in files:
                for row in clean_rows(path, spec):
                    writer.writerow(row)
                    rows += 1
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return rows
