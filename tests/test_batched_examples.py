"""The batched reader gives TFX's reader's rows, in file order, on real GZIP shards in a real Beam run."""

from __future__ import annotations

import pickle
import uuid

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.util import tfxio_utils
from tfx.proto import example_gen_pb2
from tfx_bsl.tfxio.tf_example_record import TFExampleRecord

from components.custom.batched_examples import BatchedTFExampleRecord, batched, batched_reading

SHARDS = 3
ROWS = 2500  # more than one batch in a shard, and a part batch at each shard's end
IN_PROCESS = beam.options.pipeline_options.PipelineOptions(
    ["--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner", "--direct_num_workers=1"]
)
SCHEMA = text_format.Parse(
    """
    feature { name: "index" type: INT }
    feature { name: "mass" type: FLOAT }
    feature { name: "island" type: BYTES }
    """,
    schema_pb2.Schema(),
)


def _example(index: int) -> bytes:
    feature = {"index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index]))}
    if index % 7:  # every seventh bird was not weighed
        feature["mass"] = tf.train.Feature(float_list=tf.train.FloatList(value=[3000.0 + index / 4]))
    feature["island"] = tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[b"Biscoe", b"Dream"][: index % 3])
    )
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("split")
    paths = [str(folder / f"data_tfrecord-{shard:05d}-of-{SHARDS:05d}.gz") for shard in range(SHARDS)]
    for shard, path in enumerate(paths):
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for index in range(shard, ROWS, SHARDS):
                writer.write(_example(index))
    return paths


def _save(rows: list[dict], path: str) -> None:
    with open(path, "wb") as file:
        pickle.dump(rows, file)


def _rows(tfxio, tmp_path, batch_size=None) -> list[list[dict]]:
    """The reader's Beam source's batches as lists of rows, in the order the in-process runner gives them."""
    out = str(tmp_path / f"rows-{uuid.uuid4().hex}.pickle")
    with beam.Pipeline(options=IN_PROCESS) as pipeline:
        _ = (
            pipeline
            | tfxio.BeamSource(batch_size)
            | beam.Map(lambda batch: batch.to_pylist())
            | beam.combiners.ToList()
            | beam.Map(_save, out)
        )
    with open(out, "rb") as file:
        return pickle.load(file)


def _flat(batches: list[list[dict]]) -> list[dict]:
    return [row for batch in batches for row in batch]


def _present(row: dict) -> dict:
    return {name: value for name, value in row.items() if value is not None}


def _index(row: dict) -> list[int]:
    return row["index"]


def _pattern(shards: list[str]) -> str:
    return shards[0].rsplit("/", 1)[0] + "/*"


def _in_file_order(shards: list[str]) -> list[int]:
    return [index for shard in range(SHARDS) for index in range(shard, ROWS, SHARDS)]


@pytest.mark.parametrize("schema", [SCHEMA, None], ids=["with schema", "types inferred"])
def test_rows_are_tfxs_in_file_order(shards, schema, tmp_path):
    tfx_reader = TFExampleRecord(file_pattern=_pattern(shards), schema=schema)
    ours = batched(tfx_reader)
    assert type(ours) is BatchedTFExampleRecord
    ours_rows, tfx_rows = _flat(_rows(ours, tmp_path)), _flat(_rows(tfx_reader, tmp_path))
    # Inferring types, TFX's first batches (of one row, then a few) lack a column no row in them
    # has; a batch of thousands has it, null in those rows. The values are the same.
    assert sorted(map(_present, ours_rows), key=_index) == sorted(map(_present, tfx_rows), key=_index)
    assert [row["index"][0] for row in ours_rows] == _in_file_order(shards)
    if schema is not None:
        assert ours.ArrowSchema() == tfx_reader.ArrowSchema()


def test_raw_records_and_projection_are_kept(shards, tmp_path):
    reader = batched(
        TFExampleRecord(file_pattern=_pattern(shards), schema=SCHEMA, raw_record_column_name="__raw__")
    )
    projected = reader.Project(["mass"])
    rows = _flat(_rows(projected, tmp_path))
    assert set(rows[0]) == {"mass", "__raw__"}
    in_files = [record.numpy() for record in tf.data.TFRecordDataset(shards, compression_type="GZIP")]
    assert [row["__raw__"][0] for row in rows] == in_files
    assert [row["mass"] for row in rows[:8]] == [
        None if index % 7 == 0 else [3000.0 + index / 4] for index in _in_file_order(shards)[:8]
    ]


def test_batches_are_the_configured_size(shards, tmp_path):
    reader = batched(TFExampleRecord(file_pattern=shards[0], schema=SCHEMA))
    sizes = [len(batch) for batch in _rows(reader, tmp_path, batch_size=300)]
    per_shard = len(range(0, ROWS, SHARDS))
    assert sizes == [300] * (per_shard // 300) + [per_shard % 300]


def test_other_formats_keep_tfxs_reader(shards, tmp_path):
    plain = tmp_path / "plain.tfrecord"
    with tf.io.TFRecordWriter(str(plain)) as writer:
        writer.write(_example(1))
    uncompressed = TFExampleRecord(file_pattern=str(plain), schema=SCHEMA)
    assert batched(uncompressed) is uncompressed
    nothing_there = TFExampleRecord(file_pattern=str(tmp_path / "absent" / "*"), schema=SCHEMA)
    assert batched(nothing_there) is nothing_there
    pq.write_table(pa.table({"index": [1]}), str(tmp_path / "data.parquet"))
    parquet = tfxio_utils.make_tfxio(
        file_pattern=[str(tmp_path / "data.parquet")],
        telemetry_descriptors=["test"],
        payload_format=example_gen_pb2.FORMAT_PARQUET,
        file_format=["FILE_FORMAT_PARQUET"],
    )
    assert batched(parquet) is parquet


def test_batched_reading_swaps_tfxs_factory_only_inside_the_block(shards):
    made = dict(
        file_pattern=_pattern(shards),
        telemetry_descriptors=["test"],
        payload_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
    )
    original = tfxio_utils.make_tfxio
    with pytest.raises(RuntimeError, match="inside"), batched_reading():
        assert type(tfxio_utils.make_tfxio(**made)) is BatchedTFExampleRecord
        raise RuntimeError("a failure inside the block")
    assert tfxio_utils.make_tfxio is original
    assert type(tfxio_utils.make_tfxio(**made)) is TFExampleRecord
