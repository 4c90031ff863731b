"""An ExampleGen for cleaned CSV files whose column types come from the feature config.

TFX's CsvExampleGen infers every column's type from all rows before it converts any of them, so
the parsed rows are held between two Beam stages (in memory, on the DirectRunner) and each file
is parsed by one worker. Cleaning has already fixed the types (numbers written as floats,
everything else as text), so this ExampleGen is told them instead: each byte range of the files
is read, parsed and converted in one streamed stage, and the ranges are spread over the workers.
The examples are the ones CsvExampleGen would write (empty cells become empty value lists), so
the hash split into train and eval is the same too.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow_hotfix  # noqa: F401 - also in Beam's worker processes (CVE-2023-47248, see pyproject.toml)
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx_bsl.coders import example_coder

from components.features import FeatureSpec

FLOAT_COLUMNS = "float_columns"
TEXT_COLUMNS = "text_columns"
# Units of work that Beam hands to its workers: a 1M-row file is about a dozen of them.
_RANGE_BYTES = 4 << 20


def column_types(features: FeatureSpec) -> example_gen_pb2.CustomConfig:
    """The executor's custom config: which columns hold numbers and which hold text.

    Cleaning writes numeric features as floats and the label and categorical features as text.
    """
    types = struct_pb2.Struct()
    types.update(
        {FLOAT_COLUMNS: list(features.numeric), TEXT_COLUMNS: [features.label, *features.categorical]}
    )
    config = example_gen_pb2.CustomConfig()
    config.custom_config.Pack(types)
    return config


def _read_column_types(exec_properties: dict) -> dict[str, bool]:
    """Column name -> whether it holds numbers, from the custom config."""
    config = example_gen_pb2.CustomConfig()
    json_format.Parse(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], config)
    types = struct_pb2.Struct()
    config.custom_config.Unpack(types)
    floats = {name: True for name in types[FLOAT_COLUMNS]}
    return floats | {name: False for name in types[TEXT_COLUMNS]}


def _header(files: list[str], types: dict[str, bool]) -> list[str]:
    """The columns of `files`, which must all have the same header naming every typed column."""
    headers = {}
    for path in files:
        with fileio.open(path, "r") as handle:
            headers[path] = next(csv.reader([handle.readline()]), [])
    header = headers[files[0]]
    for path, columns in headers.items():
        if sorted(columns) != sorted(types):
            raise ValueError(f"{path}: header {columns}; expected the columns {sorted(types)}")
        if columns != header:
            raise ValueError(f"{path}: header {columns} differs from {header} in {files[0]}")
    return header


def _byte_ranges(files: list[str]) -> list[tuple[str, int, int]]:
    """The files cut into ranges of `_RANGE_BYTES`: the units of work spread over the workers."""
    ranges = []
    for path in files:
        size = fileio.stat(path).length
        ranges += [(path, start, min(start + _RANGE_BYTES, size)) for start in range(0, size, _RANGE_BYTES)]
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


def _as_lists(column: pa.Array) -> pa.ListArray:
    """One value per row as a list of one; a missing value (an empty cell) as an empty list."""
    present = np.asarray(column.is_valid(), dtype=np.int32)
    offsets = np.zeros(len(column) + 1, dtype=np.int32)
    np.cumsum(present, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets), pc.drop_null(column))


class _RangeToExamples(beam.DoFn):
    """Parses a byte range of a CSV file (in C++, by Arrow) into serialized tf.Examples.

    Each example is serialized deterministically: that is the byte string TFX's ExampleGen hashes
    to assign a split when it is given protos, so the split and the written examples are those
    of a tf.train.Example built in Python from each row.
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

    def process(self, byte_range: tuple[str, int, int]) -> Iterable[bytes]:
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
                raise ValueError(
                    f"{path}: in the lines from line {_line_number(handle, first)} on: {error}"
                ) from None
        for batch in table.to_batches():
            lists = [
                _as_lists(column.cast(pa.float32()) if is_float else column)
                for column, (_, is_float) in zip(batch.columns, self._columns, strict=True)
            ]
            names = [name for name, _ in self._columns]
            for record in self._encoder.encode(pa.RecordBatch.from_arrays(lists, names)):
                yield tf.train.Example.FromString(record).SerializeToString(deterministic=True)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _typed_csv_to_examples(pipeline: beam.Pipeline, exec_properties: dict, split_pattern: str):
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    files = sorted(fileio.glob(pattern))
    if not files:
        raise RuntimeError(f"Split pattern {pattern} does not match any files.")
    types = _read_column_types(exec_properties)
    columns = [(name, types[name]) for name in _header(files, types)]
    return (
        pipeline
        | "ByteRanges" >> beam.Create(_byte_ranges(files))
        | "Spread" >> beam.Reshuffle()
        | "ToExamples" >> beam.ParDo(_RangeToExamples(columns))
    )


class Executor(BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX API
        return _typed_csv_to_examples


class TypedCsvExampleGen(FileBasedExampleGen):
    """Reads cleaned CSV files into tf.Examples; `custom_config` is `column_types(...)`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
