"""Batched Transform and StatisticsGen give TFX's own outputs: both executors, the same bundled data.

The data is every bundled penguin, written as ExampleGen writes it (GZIP shards, three for train
and two for eval), and each executor runs for real on Beam's in-process runner.
"""

from __future__ import annotations

import json
import shutil

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import schema_utils
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.components.transform import executor as transform_executor
from tfx.components.transform import labels
from tfx.components.util import examples_utils
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import artifact_utils, standard_artifacts

from components.custom.batched_statistics_gen import BatchedStatisticsGenExecutor
from components.custom.batched_transform import BatchedTransformExecutor, BatchedTransformProcessor
from components.features import transformed_name
from pipeline.definition.pipelines import PREPROCESSING_FN
from tests.conftest import _feature_value, serialized_examples
from tests.helpers import bundled_rows

IN_PROCESS = [
    "--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner",
    "--direct_running_mode=in_memory",
    "--direct_num_workers=1",
]
SHARDS = {"train": 3, "eval": 2}


def _context(tmp) -> BaseBeamExecutor.Context:
    return BaseBeamExecutor.Context(beam_pipeline_args=IN_PROCESS, tmp_dir=str(tmp / "tmp"), unique_id="1")


@pytest.fixture(scope="module")
def schema(settings) -> schema_pb2.Schema:
    return text_format.Parse(settings.schema_path.read_text(), schema_pb2.Schema())


@pytest.fixture(scope="module")
def examples(tmp_path_factory, settings, schema):
    """Every bundled penguin with a label as ExampleGen leaves them: two in three to train, one to eval."""
    features = settings.features
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    instances = [
        {
            name: _feature_value(row[name], name in features.numeric, features.missing_values)
            for name in features.columns
        }
        for row in bundled_rows()
    ]
    instances = [instance for instance in instances if instance[features.label]]
    records = serialized_examples(instances, spec)
    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path_factory.mktemp("examples"))
    artifact.split_names = artifact_utils.encode_split_names(list(SHARDS))
    examples_utils.set_file_format(artifact, "tfrecords_gzip")
    split_records = {"train": [r for i, r in enumerate(records) if i % 3], "eval": records[::3]}
    for split, shards in SHARDS.items():
        [split_dir] = artifact_utils.get_split_uris([artifact], split)
        tf.io.gfile.makedirs(split_dir)
        for shard in range(shards):
            with tf.io.TFRecordWriter(
                f"{split_dir}/data_tfrecord-{shard:05d}-of-{shards:05d}.gz", "GZIP"
            ) as writer:
                for record in split_records[split][shard::shards]:
                    writer.write(record)
    return artifact


@pytest.fixture(scope="module")
def schema_artifact(tmp_path_factory, settings):
    artifact = standard_artifacts.Schema()
    artifact.uri = str(tmp_path_factory.mktemp("schema"))
    shutil.copy(settings.schema_path, f"{artifact.uri}/schema.pbtxt")
    return artifact


def _transform(executor_class, examples, schema_artifact, settings, out):
    graph, transformed = standard_artifacts.TransformGraph(), standard_artifacts.Examples()
    graph.uri, transformed.uri = str(out / "graph"), str(out / "transformed")
    executor_class(_context(out)).Do(
        {"examples": [examples], "schema": [schema_artifact]},
        {"transform_graph": [graph], "transformed_examples": [transformed]},
        {
            "preprocessing_fn": PREPROCESSING_FN,
            "custom_config": json.dumps(settings.features.as_custom_config()),
            "disable_statistics": 1,
            "force_tf_compat_v1": 1,
        },
    )
    return out


def _transformed_rows(out, split: str) -> list[tuple]:
    """The split's transformed examples, parsed, in file and record order: one tuple per example."""
    spec = tft.TFTransformOutput(str(out / "graph")).transformed_feature_spec()
    files = sorted(tf.io.gfile.glob(str(out / "transformed" / f"Split-{split}" / "*")))
    parsed = tf.io.parse_example(list(tf.data.TFRecordDataset(files, compression_type="GZIP")), spec)
    names = sorted(spec)
    columns = [parsed[name].numpy().reshape(-1).tolist() for name in names]
    return list(zip(*columns, strict=True))


def _in_value_order(rows: list[tuple]) -> np.ndarray:
    return np.array(sorted(rows, key=lambda row: tuple(round(value, 4) for value in row)))


@pytest.fixture(scope="module")
def transformed(tmp_path_factory, examples, schema_artifact, settings):
    """TFX's Transform and the batched one, twice, on the same examples."""
    return {
        name: _transform(executor, examples, schema_artifact, settings, tmp_path_factory.mktemp(name))
        for name, executor in (
            ("tfx", transform_executor.Executor),
            ("batched", BatchedTransformExecutor),
            ("batched again", BatchedTransformExecutor),
        )
    }


@pytest.mark.parametrize("split", list(SHARDS))
def test_transform_gives_tfxs_examples_and_vocabularies(transformed, split, settings):
    tfx_rows, batched_rows = (_transformed_rows(transformed[name], split) for name in ("tfx", "batched"))
    assert len(batched_rows) > 50
    assert len(batched_rows) == len(tfx_rows)
    # The analyzers' sums run over other batches, so a z-score may differ in its last bit or two.
    np.testing.assert_allclose(_in_value_order(batched_rows), _in_value_order(tfx_rows), rtol=0, atol=1e-6)
    tfx_graph, batched_graph = (
        tft.TFTransformOutput(str(transformed[n] / "graph")) for n in ("tfx", "batched")
    )
    for name in (*settings.features.categorical, settings.features.label):
        assert batched_graph.vocabulary_by_name(name) == tfx_graph.vocabulary_by_name(name)


@pytest.mark.parametrize("split", list(SHARDS))
def test_transform_keeps_examplegens_order_on_every_run(transformed, examples, split, settings):
    """The Trainer's order, and so the trained model, depends only on the data."""
    label = settings.features.label
    vocabulary = tft.TFTransformOutput(str(transformed["batched"] / "graph")).vocabulary_by_name(label)
    [split_dir] = artifact_utils.get_split_uris([examples], split)
    raw = tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(f"{split_dir}/*")), compression_type="GZIP")
    raw_labels = [
        tf.train.Example.FromString(record.numpy()).features.feature[label].bytes_list.value[0]
        for record in raw
    ]
    spec = tft.TFTransformOutput(str(transformed["batched"] / "graph")).transformed_feature_spec()
    label_column = sorted(spec).index(transformed_name(label))
    rows = _transformed_rows(transformed["batched"], split)
    assert [vocabulary[row[label_column]] for row in rows] == raw_labels
    assert _transformed_rows(transformed["batched again"], split) == rows


@pytest.mark.parametrize("split", list(SHARDS))
def test_transformed_files_are_named_as_beam_names_them_and_nothing_is_left_over(transformed, split):
    split_dir = transformed["batched"] / "transformed" / f"Split-{split}"
    assert sorted(path.name for path in split_dir.iterdir()) == ["transformed_examples-00000-of-00001.gz"]


def test_an_empty_split_is_written_as_one_empty_file(tmp_path, schema):
    prefix = str(tmp_path / "Split-eval" / "transformed_examples")
    with beam.Pipeline(options=beam.options.pipeline_options.PipelineOptions(IN_PROCESS)) as pipeline:
        nothing = pipeline | beam.Create([], reshuffle=False).with_output_types(tuple[pa.RecordBatch, dict])
        _ = nothing | BatchedTransformProcessor._EncodeAndWrite(schema, labels.FORMAT_TFRECORD, prefix)
    [written] = (tmp_path / "Split-eval").iterdir()
    assert written.name == "transformed_examples-00000-of-00001.gz"
    assert list(tf.data.TFRecordDataset(str(written), compression_type="GZIP")) == []


@pytest.fixture(scope="module")
def statistics(tmp_path_factory, examples):
    """TFX's StatisticsGen and the batched one, on the same examples: split -> (tfx, batched)."""
    found = {}
    for name, executor_class in (
        ("tfx", statistics_gen_executor.Executor),
        ("batched", BatchedStatisticsGenExecutor),
    ):
        out = tmp_path_factory.mktemp(f"statistics-{name}")
        artifact = standard_artifacts.ExampleStatistics()
        artifact.uri = str(out / "statistics")
        executor_class(_context(out)).Do(
            {"examples": [examples]}, {"statistics": [artifact]}, {"exclude_splits": "[]"}
        )
        for split in SHARDS:
            [split_dir] = artifact_utils.get_split_uris([artifact], split)
            [path] = tf.io.gfile.glob(f"{split_dir}/*")
            found.setdefault(split, []).append(tfdv.load_stats_binary(path).datasets[0])
    return found


@pytest.mark.parametrize("split", list(SHARDS))
def test_statistics_are_tfxs(statistics, split):
    tfx_stats, batched_stats = statistics[split]
    assert batched_stats.num_examples == tfx_stats.num_examples > 50
    tfx_features = {feature.path.step[0]: feature for feature in tfx_stats.features}
    batched_features = {feature.path.step[0]: feature for feature in batched_stats.features}
    assert batched_features.keys() == tfx_features.keys()
    for name, tfx_feature in tfx_features.items():
        feature = batched_features[name]
        assert feature.type == tfx_feature.type, name
        if tfx_feature.HasField("num_stats"):
            ours, theirs = feature.num_stats, tfx_feature.num_stats
            assert ours.common_stats == theirs.common_stats, name
            assert (ours.min, ours.max, ours.num_zeros) == (theirs.min, theirs.max, theirs.num_zeros), name
            # Sums in another order: equal to the last few bits.
            np.testing.assert_allclose([ours.mean, ours.std_dev], [theirs.mean, theirs.std_dev], rtol=1e-12)
        else:
            assert feature.string_stats == tfx_feature.string_stats, name
