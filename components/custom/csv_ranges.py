"""CSV files cut into byte ranges, each parsed by Arrow and encoded by tfx_bsl into tf.Examples.

The ranges are the units of work Beam spreads over its workers. The examples are serialized
deterministically, features in name order, as TFX's ExampleGen serializes a tf.train.Example to
hash it for the split: the bytes, and so the split, are those of a tf.train.Example built in
Python from each row, while the per-row work is done in C++.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow_hotfix  # noqa: F401 - also in Beam's worker processes (CVE-2023-47248, see pyproject.toml)
from tfx.dsl.io import fileio
from tfx_bsl.coders import example_coder

# Units of work that Beam hands to its workers: a 1M-row file is about a dozen of them.
RANGE_BYTES = 4 << 20


def byte_ranges(files: list[str]) -> list[tuple[str, int, int]]:
    """The files cut into ranges of `RANGE_BYTES`: the units of work spread over the workers."""
    ranges = []
    for path in files:
        size = fileio.stat(path).length
        ranges += [(path, start, min(start + RANGE_BYTES, size)) for start in range(0, size, RANGE_BYTES)]
    return ranges


def _range_lines(handle, start: int, end: int) -> tuple[int, bytes]:
    """The whole lines that begin in [start, end) after the header, and the offset of the first.

    A line belongs to the range its first byte is in, so every line is read by exactly one range.
    """
    if start == 0:
        handle.readline()  # the header
    else:
        handle.seek(start - 1)
        handle.readline()  # the end of a line that began in an earlier range
    first = handle.tell()
    if first >= end:
        return first, b""
    block = handle.read(end - first)
    if not block.endswith(b"\n"):
        block += handle.readline()
    return first, block


def _line_number(handle, offset: int) -> int:
    """The 1-based line number of the line starting at byte `offset` (for error messages only)."""
    handle.seek(0)
    return handle.read(offset).count(b"\n") + 1


def _first_bad_row(block: bytes, columns: list[tuple[str, bool]]) -> tuple[int, str] | None:
    """The first row of `block` (counted from 0) that Arrow could not read, and what is wrong with it.

    Arrow names neither the row of a bad number nor the line of a bad row, so after it failed
    the lines are read again one by one.
    """
    for number, line in enumerate(block.split(b"\n")):
        cells = next(csv.reader([line.decode(errors="replace").rstrip("\r")]), [])
        if not cells:
            continue
        if len(cells) != len(columns):
            return number, f"{len(cells)} fields; expected {len(columns)} as in the header"
        for cell, (name, is_float) in zip(cells, columns, strict=True):
            if is_float and cell:
                try:
                    float(cell)
                except ValueError:
                    return number, f"column '{name}': {cell!r}; expected a number or an empty cell"
    return None


def _as_lists(column: pa.Array) -> pa.ListArray:
    """One value per row as a list of one; a missing value (an empty cell) as an empty list."""
    present = np.asarray(column.is_valid(), dtype=np.int32)
    offsets = np.zeros(len(column) + 1, dtype=np.int32)
    np.cumsum(present, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pc.drop_null(column))


def _varint(number: int) -> bytes:
    """`number` in protobuf's variable-length encoding."""
    encoded = bytearray()
    while number >= 0x80:
        encoded.append(number & 0x7F | 0x80)
        number >>= 7
    encoded.append(number)
    return bytes(encoded)


def _after_varint(data: bytes, start: int) -> int:
    """The offset just past the varint that begins at `start`."""
    while data[start] & 0x80:
        start += 1
    return start + 1


def _features_entries(examples: list[bytes]) -> list[bytes]:
    """The map entries (field 1 of Features, with its tag) of serialized one-feature Examples.

    An Example is a tag, the length of its Features as a varint, then the Features: one byte of
    length up to 127 bytes, the common case.
    """
    return [one[2:] if one[1] < 0x80 else one[_after_varint(one, 1) :] for one in examples]


class RangeToExamples(beam.DoFn):
    """Parses a byte range of a CSV file (in C++, by Arrow) into a list of serialized tf.Examples.

    The examples are serialized deterministically, features in name order, as TFX's ExampleGen
    serializes a tf.train.Example for its hash split: the bytes, and so the split, are those of
    a tf.train.Example built in Python from each row. tfx_bsl's encoder orders the features of
    an example as a hash map does, so each feature is encoded on its own and the entries are
    joined in name order.
    """

    def __init__(self, columns: list[tuple[str, bool]]):
        self._columns = columns

    def setup(self):
        self._encoder = example_coder.RecordBatchToExamplesEncoder()
        self._read_options = pa_csv.ReadOptions(column_names=[name for name, _ in self._columns])
        self._convert_options = pa_csv.ConvertOptions(
            column_types={name: pa.float64() if number else pa.binary() for name, number in self._columns},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        )

    def process(self, byte_range: tuple[str, int, int]) -> Iterable[list[bytes]]:
        path, start, end = byte_range
        with fileio.open(path, "rb") as handle:
            first, block = _range_lines(handle, start, end)
            if not block:
                return
            try:
                table = pa_csv.read_csv(
                    pa.BufferReader(block),
                    read_options=self._read_options,
                    convert_options=self._convert_options,
                )
            except pa.ArrowInvalid as error:
                line = _line_number(handle, first)
                bad = _first_bad_row(block, self._columns)
                if bad is None:
                    raise ValueError(f"{path}, in the rows from line {line} on: {error}") from None
                raise ValueError(f"{path}, line {line + bad[0]}: {bad[1]}") from None
        for batch in table.to_batches():
            entries = []
            for name, is_float in sorted(self._columns):
                column = batch.column(name)
                values = _as_lists(column.cast(pa.float32()) if is_float else column)
                one_feature = pa.RecordBatch.from_arrays([values], [name])
                entries.append(_features_entries(self._encoder.encode(one_feature)))
            yield [
                b"\n" + _varint(len(features)) + features
                for features in map(b"".join, zip(*entries, strict=True))
            ]
