"""The eval sample is drawn from real GZIP TFRecord shards as ExampleGen writes them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.types import artifact_utils, standard_artifacts

from components.custom import eval_sample

POPULATION = 6000
SHARDS = 3


def _example(index: int) -> bytes:
    features = {
        "index": tf.train.Feature(int64_list=tf.train.Int64List(value=[index])),
        "species": tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[b"Adelie" if index % 3 else b"Gentoo"])
        ),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def _span(root, first: int, count: int):
    """An Examples artifact with examples `first` to `first + count - 1` in a three-shard eval split
    and a small train split, as ExampleGen leaves one span."""
    artifact = standard_artifacts.Examples()
    artifact.uri = str(root)
    artifact.split_names = artifact_utils.encode_split_names(["train", "eval"])
    examples_utils.set_file_format(artifact, "tfrecords_gzip")
    for split, indices in (("eval", range(first, first + count)), ("train", range(-50, 0))):
        [split_dir] = artifact_utils.get_split_uris([artifact], split)
        tf.io.gfile.makedirs(split_dir)
        for shard in range(SHARDS):
            path = f"{split_dir}/data_tfrecord-{shard:05d}-of-{SHARDS:05d}.gz"
            with tf.io.TFRecordWriter(path, options="GZIP") as writer:
                for index in indices[shard::SHARDS]:
                    writer.write(_example(index))
    return artifact


@pytest.fixture(scope="module")
def spans(tmp_path_factory):
    """Two spans, as a retrain's window gives the Evaluator: 4,000 and 2,000 eval examples."""
    return [
        _span(tmp_path_factory.mktemp("span0"), 0, 4000),
        _span(tmp_path_factory.mktemp("span1"), 4000, POPULATION - 4000),
    ]


def _records(*artifacts, split="eval") -> list[bytes]:
    files = sorted(
        path
        for artifact in artifacts
        for split_dir in artifact_utils.get_split_uris([artifact], split)
        for path in tf.io.gfile.glob(f"{split_dir}/*")
    )
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _indices(records: list[bytes]) -> np.ndarray:
    return np.array(
        [tf.train.Example.FromString(r).features.feature["index"].int64_list.value[0] for r in records]
    )


def test_the_population_is_every_example_of_the_named_splits_in_every_span(spans):
    assert eval_sample.population_size(spans, ["eval"]) == POPULATION
    assert eval_sample.population_size(spans, ["eval", "train"]) == POPULATION + 2 * 50
    assert eval_sample.population_size(spans[1:], ["eval"]) == POPULATION - 4000


def test_a_sample_is_about_the_asked_size_drawn_evenly_from_every_shard_and_span(spans, tmp_path):
    sample = eval_sample.draw(spans, ["eval"], 600, POPULATION, str(tmp_path / "sample"))
    indices = _indices(_records(sample.examples))
    assert sample.size == len(indices)
    # Binomial(6000, 0.1): a standard deviation of 23.
    assert 500 <= sample.size <= 700
    assert len(set(indices.tolist())) == len(indices), "an example was drawn twice"
    assert set(indices.tolist()) <= set(range(POPULATION))
    assert {index % SHARDS for index in indices} == set(range(SHARDS))
    # Each span in proportion to its size (a third of the sample from the second span).
    assert 0.25 < np.mean(indices >= 4000) < 0.42
    # Spread over the whole split, not its first records.
    assert abs(indices.mean() - POPULATION / 2) < 0.1 * POPULATION
    assert sample.population == POPULATION


def test_the_sample_keeps_the_records_bytes_and_the_artifacts_format(spans, tmp_path):
    sample = eval_sample.draw(spans, ["eval"], 600, POPULATION, str(tmp_path / "sample"))
    assert set(_records(sample.examples)) <= set(_records(*spans))
    assert eval_sample.can_sample([sample.examples])
    assert examples_utils.get_payload_format(sample.examples) == examples_utils.get_payload_format(spans[0])


def test_the_same_data_gives_the_same_sample(spans, tmp_path):
    first = eval_sample.draw(spans, ["eval"], 600, POPULATION, str(tmp_path / "first"))
    second = eval_sample.draw(spans, ["eval"], 600, POPULATION, str(tmp_path / "second"))
    assert sorted(_records(first.examples)) == sorted(_records(second.examples))


def test_a_larger_sample_holds_the_smaller_one(spans, tmp_path):
    """The hash decides each example alone, so asking for more only adds examples."""
    small = eval_sample.draw(spans, ["eval"], 300, POPULATION, str(tmp_path / "small"))
    large = eval_sample.draw(spans, ["eval"], 1200, POPULATION, str(tmp_path / "large"))
    assert set(_records(small.examples)) < set(_records(large.examples))


def test_examples_in_another_format_are_not_sampled(spans):
    parquet = standard_artifacts.Examples()
    examples_utils.set_file_format(parquet, "parquet")
    assert not eval_sample.can_sample([*spans, parquet])
