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
import pyarrow_hotfix  # noqa: F401 - also in Beam's worker processes (CVE-2023-47248, see pyproject.toml)
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs

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


def _to_example(line: str, columns: list[tuple[str, bool]]) -> Iterable[tf.train.Example]:
    if not line:
        return
    cells = next(csv.reader([line]))
    if len(cells) != len(columns):
        raise ValueError(f"CSV line {line!r} has {len(cells)} fields; expected {len(columns)}")
    feature = {}
    for cell, (name, is_float) in zip(cells, columns, strict=True):
        if is_float:
            values = tf.train.FloatList(value=[float(cell)] if cell else [])
            feature[name] = tf.train.Feature(float_list=values)
        else:
            values = tf.train.BytesList(value=[cell.encode()] if cell else [])
            feature[name] = tf.train.Feature(bytes_list=values)
    yield tf.train.Example(features=tf.train.Features(feature=feature))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _typed_csv_to_examples(pipeline: beam.Pipeline, exec_properties: dict, split_pattern: str):
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    files = sorted(fileio.glob(pattern))
    if not files:
        raise RuntimeError(f"Split pattern {pattern} does not match any files.")
    types = _read_column_types(exec_properties)
    columns = [(name, types[name]) for name in _header(files, types)]
    return (
        pipeline
        | "Files" >> beam.Create(files)
        | "ReadLines" >> beam.io.ReadAllFromText(skip_header_lines=1, desired_bundle_size=_RANGE_BYTES)
        | "ToExample" >> beam.FlatMap(_to_example, columns)
    )


class Executor(BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX API
        return _typed_csv_to_examples


class TypedCsvExampleGen(FileBasedExampleGen):
    """Reads cleaned CSV files into tf.Examples; `custom_config` is `column_types(...)`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
