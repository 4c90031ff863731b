"""Fixtures built from real components: a tf.Transform output and a trained SavedModel."""

from __future__ import annotations

import functools
import math

import pytest

from pipeline.config.settings import load_settings
from tests.helpers import bundled_rows

SMALL_SAMPLE = 60


@pytest.fixture(scope="session")
def settings():
    return load_settings()


def _feature_value(text: str, numeric: bool, missing_values: tuple[str, ...]):
    if text in ("", *missing_values):
        return []
    return [float(text)] if numeric else [text.encode()]


@pytest.fixture(scope="session")
def raw_instances(settings):
    """Every sixth bundled penguin (all species, islands, and a bird with nothing measured)."""
    features = settings.features
    rows = bundled_rows()[3::6][:SMALL_SAMPLE]
    instances = []
    for row in rows:
        missing = features.missing_values
        instance = {name: _feature_value(row[name], True, missing) for name in features.numeric}
        instance.update({name: _feature_value(row[name], False, missing) for name in features.categorical})
        instance[features.label] = _feature_value(row[features.label], False, missing)
        instances.append(instance)
    return instances


def analyzed(settings, instances: list[dict], out):
    """The penguins preprocessing_fn analysed by tf.Transform on Beam over `instances`, as TFX runs it.

    Returns the folder of the transform graph, which `tft.TFTransformOutput` reads.
    """
    import apache_beam as beam
    import tensorflow_transform.beam as tft_beam
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io

    from components.model.transform import preprocessing_fn

    schema = text_format.Parse(settings.schema_path.read_text(), schema_pb2.Schema())
    metadata = dataset_metadata.DatasetMetadata(schema)
    fn = functools.partial(preprocessing_fn, custom_config=settings.as_custom_config())
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=str(out / "tmp"), force_tf_compat_v1=True):
        raw = pipeline | beam.Create(instances, reshuffle=False)
        transform_fn = (raw, metadata) | tft_beam.AnalyzeDataset(fn)
        _ = transform_fn | tft_beam.WriteTransformFn(str(out / "graph"))
    # TFX's Transform also records the raw metadata, which TFTransformOutput reads.
    metadata_io.write_metadata(metadata, str(out / "graph" / "metadata"))
    return out / "graph"


@pytest.fixture(scope="session")
def transform_output_dir(tmp_path_factory, settings, raw_instances):
    """The penguins preprocessing_fn analysed over the sample."""
    return analyzed(settings, raw_instances, tmp_path_factory.mktemp("transform"))


def serialized_examples(instances, feature_spec) -> list[bytes]:
    import tensorflow as tf

    def feature(name, values):
        if feature_spec[name].dtype == tf.string:
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        return tf.train.Feature(float_list=tf.train.FloatList(value=values))

    return [
        tf.train.Example(
            features=tf.train.Features(feature={name: feature(name, v) for name, v in instance.items()})
        ).SerializeToString()
        for instance in instances
    ]


@pytest.fixture(scope="session")
def transformed(transform_output_dir, raw_instances):
    """The sample run through the written transform graph, in order: name -> array per example."""
    import tensorflow as tf
    import tensorflow_transform as tft

    output = tft.TFTransformOutput(str(transform_output_dir))
    spec = output.raw_feature_spec()
    parsed = tf.io.parse_example(serialized_examples(raw_instances, spec), spec)
    layer = output.transform_features_layer()
    return {name: value.numpy().reshape(-1) for name, value in layer(parsed).items()}


def _train_and_export(tmp_path_factory, settings, transform_output_dir, transformed, seed, epochs):
    import keras
    import tensorflow_transform as tft

    from components.features import FeatureSpec, transformed_name
    from components.model.classifier import build_model
    from components.model.inputs import InputLayout
    from components.model.signatures import export_saved_model

    output = tft.TFTransformOutput(str(transform_output_dir))
    features = FeatureSpec.from_custom_config(settings.as_custom_config())
    layout = InputLayout.of(features, output)
    keras.utils.set_random_seed(seed)
    model = build_model(layout.width, output.vocabulary_size_by_name(features.label), [8], 0.05)
    labels = transformed[transformed_name(features.label)].reshape(-1, 1)
    model.fit(layout.matrix(transformed).numpy(), labels, epochs=epochs, verbose=0)
    path = tmp_path_factory.mktemp("model") / "saved_model"
    export_saved_model(model, output, features, str(path))
    return path


@pytest.fixture(scope="session")
def train_model(tmp_path_factory, settings, transform_output_dir, transformed):
    """Trains and exports a model on the transformed sample, once per (seed, epochs)."""
    return functools.cache(
        lambda seed, epochs: _train_and_export(
            tmp_path_factory, settings, transform_output_dir, transformed, seed, epochs
        )
    )


@pytest.fixture(scope="session")
def exported_model_dir(train_model):
    """A model trained briefly on the transformed sample and exported with all signatures."""
    return train_model(1, 30)


@pytest.fixture(scope="session")
def other_model_dir(train_model):
    """A second, different model (other seed, less training), to tell versions apart by their answers."""
    return train_model(2, 3)


def is_close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5)
