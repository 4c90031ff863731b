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

import collections
import csv
import itertools
import os
import random
import struct
import zlib
from collections.abc import Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow_hotfix  # noqa: F401 - also in Beam's worker processes (CVE-2023-47248, see pyproject.toml)
import tensorflow as tf
from google.protobuf import json_format, struct_pb2
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor, _PartitionFn
from tfx.components.example_gen.component import FileBasedExampleGen
from tfx.components.util import examples_utils
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils
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


class _RangeToExamples(beam.DoFn):
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


def _pack(examples: list[bytes]) -> bytes:
    """Serialized examples as one compressed string: count, lengths, then the examples."""
    lengths = np.fromiter(map(len, examples), dtype="<u4", count=len(examples))
    return zlib.compress(struct.pack("<I", len(examples)) + lengths.tobytes() + b"".join(examples), 1)


def _unpack(packed: bytes) -> list[bytes]:
    data = zlib.decompress(packed)
    (count,) = struct.unpack_from("<I", data)
    lengths = np.frombuffer(data, dtype="<u4", count=count, offset=4)
    ends = (4 + 4 * count + np.cumsum(lengths, dtype=np.int64)).tolist()
    return [data[start:end] for start, end in zip([4 + 4 * count, *ends[:-1]], ends, strict=True)]


class _ToShards(beam.DoFn):
    """Sends each example of a list to its split, by TFX's hash partition, and to a random shard.

    Shuffling whole shards rather than single examples keeps TFX's shuffle without a million
    small elements in the runner, and packing them compressed keeps what the shuffle holds small
    (Beam's local runner holds all of it in memory).
    """

    def __init__(self, split_config: example_gen_pb2.SplitConfig, shards: int):
        self._split_config = split_config
        self._buckets = list(itertools.accumulate(split.hash_buckets for split in split_config.splits))
        self._shards = shards

    def process(self, examples: list[bytes]) -> Iterable[tuple[tuple[int, int], bytes]]:
        # _PartitionFn is what TFX's GenerateExamplesByBeam partitions with (TFX 1.16 to 1.21).
        groups = collections.defaultdict(list)
        shards = random.choices(range(self._shards), k=len(examples))
        for example, shard in zip(examples, shards, strict=True):
            split = _PartitionFn(example, len(self._buckets), self._buckets, self._split_config)
            groups[split, shard].append(example)
        for key, group in groups.items():
            yield key, _pack(group)


def _write_shard(shard: tuple[tuple[int, int], Iterable[bytes]], uris: list[str], shards: int) -> None:
    """Writes one shard of a split, its examples shuffled, where TFX's WriteSplit writes them."""
    (split, index), packs = shard
    examples = [example for packed in packs for example in _unpack(packed)]
    random.shuffle(examples)
    path = os.path.join(
        uris[split], f"{write_split.DEFAULT_TF_RECORD_FILE_NAME}-{index:05d}-of-{shards:05d}.gz"
    )
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for example in examples:
            writer.write(example)


def _source(exec_properties: dict, split_pattern: str) -> tuple[list[tuple[str, int, int]], _RangeToExamples]:
    """The byte ranges of the files `split_pattern` matches, and the DoFn that reads a range."""
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    files = sorted(fileio.glob(pattern))
    if not files:
        raise RuntimeError(f"Split pattern {pattern} does not match any files.")
    types = _read_column_types(exec_properties)
    columns = [(name, types[name]) for name in _header(files, types)]
    return _byte_ranges(files), _RangeToExamples(columns)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(bytes)
def _typed_csv_to_examples(pipeline: beam.Pipeline, exec_properties: dict, split_pattern: str):
    ranges, to_examples = _source(exec_properties, split_pattern)
    return (
        pipeline
        | "ByteRanges" >> beam.Create(ranges)
        | "Spread" >> beam.Reshuffle()
        | "ToExamples" >> beam.ParDo(to_examples)
        | "Each" >> beam.FlatMap(lambda examples: examples)
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
                pipeline
                | "ByteRanges" >> beam.Create(ranges)
                | "Spread" >> beam.Reshuffle()
                | "ToExamples" >> beam.ParDo(to_examples)
                | "ToShards" >> beam.ParDo(_ToShards(split_config, shards))
                | "Shuffle" >> beam.GroupByKey()
                | "Write" >> beam.Map(_write_shard, uris, shards)
            )
        for examples in outputs:
            if payload_format:
                examples_utils.set_payload_format(examples, payload_format)
            if file_format_name:
                examples_utils.set_file_format(examples, file_format_name)


class TypedCsvExampleGen(FileBasedExampleGen):
    """Reads cleaned CSV files into tf.Examples; `custom_config` is `column_types(...)`."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
