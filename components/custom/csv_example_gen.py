"""An ExampleGen for cleaned CSV files whose column types come from the feature config.

TFX's CsvExampleGen infers every column's type from all rows before it converts any of them, so
the parsed rows are held between two Beam stages (in memory, on the DirectRunner) and each file
is parsed by one worker. Cleaning has already fixed the types (numbers written as floats,
everything else as text), so this ExampleGen is told them instead: each byte range of the files
is read, parsed and converted in one streamed stage (in C++, by Arrow and tfx_bsl), and the
ranges are spread over the workers. The examples are the ones CsvExampleGen would write (empty
cells become empty value lists), serialized as TFX serializes them to hash them, so the split
into train and eval is the same too.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator

import apache_beam as beam
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components.custom.csv_ranges import RangeToExamples, byte_ranges
from components.custom.example_shards import HashSplit, ToShards, write_shard
from components.features import FeatureSpec

FLOAT_COLUMNS = "float_columns"
TEXT_COLUMNS = "text_columns"


def _number_columns(features: FeatureSpec) -> dict[str, bool]:
    """Column name -> whether it holds numbers: cleaning writes numeric features as floats and the
    label and categorical features as text."""
    return {name: True for name in features.numeric} | {
        name: False for name in (features.label, *features.categorical)
    }


def column_types(features: FeatureSpec) -> example_gen_pb2.CustomConfig:
    """The executor's custom config: which columns hold numbers and which hold text."""
    numbers = _number_columns(features)
    types = struct_pb2.Struct()
    types.update(
        {
            FLOAT_COLUMNS: [name for name, number in numbers.items() if number],
            TEXT_COLUMNS: [name for name, number in numbers.items() if not number],
        }
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


def example_splits(
    files: list[str], features: FeatureSpec, split_config: example_gen_pb2.SplitConfig
) -> Iterator[int]:
    """The split of each example this ExampleGen writes from cleaned `files`, in file order.

    Read, serialized and hashed as the executor does, but in this process and lazily: a check
    before a run can stop as soon as it has seen what it needs.
    """
    types = _number_columns(features)
    to_examples = RangeToExamples([(name, types[name]) for name in _header(files, types)])
    to_examples.setup()
    split_of = HashSplit(split_config)
    for byte_range in byte_ranges(files):
        for examples in to_examples.process(byte_range):
            yield from map(split_of, examples)


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


def _source(exec_properties: dict, split_pattern: str) -> tuple[list[tuple[str, int, int]], RangeToExamples]:
    """The byte ranges of the files `split_pattern` matches, and the DoFn that reads a range."""
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    files = sorted(fileio.glob(pattern))
    if not files:
        raise RuntimeError(f"Split pattern {pattern} does not match any files.")
    types = _read_column_types(exec_properties)
    columns = [(name, types[name]) for name in _header(files, types)]
    return byte_ranges(files), RangeToExamples(columns)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _typed_csv_to_examples(pipeline: beam.Pipeline, exec_properties: dict, split_pattern: str):
    ranges, to_examples = _source(exec_properties, split_pattern)
    return _example_lists(pipeline, ranges, to_examples) | "Each" >> beam.FlatMap(lambda examples: examples)


def _example_lists(pipeline: beam.Pipeline, ranges: list[tuple[str, int, int]], to_examples: RangeToExamples):
    """Lists of serialized examples, one per byte range, the ranges spread over the workers."""
    return (
        pipeline
        | "ByteRanges" >> beam.Create(ranges)
        | "Spread" >> beam.Reshuffle()
        | "ToExamples" >> beam.ParDo(to_examples)
    )


class Executor(BaseExampleGenExecutor):
    """TFX's ExampleGen executor, with the hash split and shuffle done on lists of examples.

    TFX's executor sends every example through Beam on its own: its hash partition, its shuffle
    (which holds all of them in memory on Beam's local runner) and its write. For an output split
    by hash, this executor moves lists of serialized examples instead and writes each split's
    shards as TFX's WriteSplit names them; any other config goes the TFX way.
    """

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 - TFX API
        return _typed_csv_to_examples

    def Do(self, input_dict: dict, output_dict: dict, exec_properties: dict) -> None:  # noqa: N802 - TFX API
        input_config = example_gen_pb2.Input()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
        output_config = example_gen_pb2.Output()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], output_config)
        split_config = output_config.split_config
        payload_format = exec_properties.get(standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
        file_format = exec_properties.get(standard_component_specs.OUTPUT_FILE_FORMAT_KEY)
        if (
            not split_config.splits
            or split_config.HasField("partition_feature_name")
            or len(input_config.splits) != 1
            or payload_format not in (None, example_gen_pb2.FORMAT_TF_EXAMPLE)
        ):
            super().Do(input_dict, output_dict, exec_properties)
            return
        self._log_startup(input_dict, output_dict, exec_properties)
        outputs = output_dict[standard_component_specs.EXAMPLES_KEY]
        names = example_gen_utils.generate_output_split_names(input_config, output_config)
        artifact_utils.get_single_instance(outputs).split_names = artifact_utils.encode_split_names(names)
        uris = [artifact_utils.get_split_uri(outputs, name) for name in names]
        for uri in uris:
            fileio.makedirs(uri)
        # TFX's names for the file format, which also refuses any but gzipped TFRecords.
        file_format_name = write_split.to_file_format_str(file_format) if file_format else None
        ranges, to_examples = _source(exec_properties, input_config.splits[0].pattern)
        shards = len(ranges)
        with self._make_beam_pipeline() as pipeline:
            _ = (
                _example_lists(pipeline, ranges, to_examples)
                | "ToShards" >> beam.ParDo(ToShards(split_config, shards))
                | "Shuffle" >> beam.GroupByKey()
                | "Write" >> beam.Map(write_shard, uris, shards)
            )
        for examples in outputs:
            if payload_format:
                examples_utils.set_payload_format(examples, payload_format)
            if file_format_name:
                examples_utils.set_file_format(examples, file_format_name)


class TypedCsvExampleGen(FileBasedExampleGen):
    """Reads cleaned CSV files into tf.Examples; `custom_config` is `column_types(...)`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
