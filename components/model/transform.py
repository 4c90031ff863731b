"""The tf.Transform preprocessing: the same graph runs in training, evaluation and serving.

Missing numeric values are imputed with the training mean before z-scoring, so a penguin
measured by a tired field worker still gets a prediction. Missing and unseen categories share
one out-of-vocabulary bucket. The label becomes an index into its vocabulary, which is also
how the served model names its classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tensorflow as tf
import tensorflow_transform as tft

from components.features import FeatureSpec, transformed_name

MISSING_CATEGORY = ""


def _dense_column(value: tf.Tensor | tf.SparseTensor, default: Any) -> tf.Tensor:
    """A [batch, 1] dense tensor, with `default` where the feature was absent."""
    if isinstance(value, tf.SparseTensor):
        return tft.sparse_tensor_to_dense_with_shape(value, [None, 1], default_value=default)
    return tf.reshape(value, [-1, 1])


def label_vocabulary_name(label: str) -> str:
    return label


def preprocessing_fn(inputs: Mapping[str, Any], custom_config: Mapping[str, Any]) -> dict:
    """Called by TFX Transform with the raw features; returns the model's features."""
    features = FeatureSpec.from_custom_config(custom_config)
    outputs = {}
    for name in features.numeric:
        # Scaling the present values, then filling the gaps with 0, equals imputing the mean and
        # scaling; it needs one analysis pass instead of two.
        scaled = tft.scale_to_z_score(tf.cast(inputs[name], tf.float32))
        outputs[transformed_name(name)] = _dense_column(scaled, 0.0)
    for name in features.categorical:
        vocabulary = tft.vocabulary(inputs[name], vocab_filename=name)
        dense = _dense_column(inputs[name], MISSING_CATEGORY)
        outputs[transformed_name(name)] = tft.apply_vocabulary(dense, vocabulary, num_oov_buckets=1)
    outputs[transformed_name(features.label)] = tft.compute_and_apply_vocabulary(
        _dense_column(inputs[features.label], MISSING_CATEGORY),
        vocab_filename=label_vocabulary_name(features.label),
    )
    return outputs
