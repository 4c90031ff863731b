"""The model's one input: the transformed features laid out as a single float matrix.

The model used to take six inputs, one per feature, and one-hot its categoricals in a Keras layer
at every training step. One matrix (z-scored numerics, then each categorical one-hot over its
vocabulary and out-of-vocabulary bucket) is what a notebook hands to Keras: the same network,
with fewer tensors to slice, feed and encode per step. Training builds it once over all examples;
the exported signatures build it from the tf.Transform layer's output, with the same function,
so training and serving cannot lay it out differently.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components.features import FeatureSpec, transformed_name
from components.model.transform import OOV_BUCKETS, vocabulary_size


@dataclasses.dataclass(frozen=True)
class InputLayout:
    """Which transformed features make the matrix, in column order, and each one-hot's width."""

    numeric: tuple[str, ...]
    categorical_sizes: Mapping[str, int]

    @classmethod
    def of(cls, features: FeatureSpec, transform_output: tft.TFTransformOutput) -> InputLayout:
        """The layout for a Transform output: each one-hot is its vocabulary plus the OOV bucket."""
        return cls(
            numeric=features.numeric,
            categorical_sizes={
                name: vocabulary_size(transform_output, name) + OOV_BUCKETS for name in features.categorical
            },
        )

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(self.categorical_sizes.values())

    def matrix(self, transformed: Mapping[str, tf.Tensor | np.ndarray]) -> tf.Tensor:
        """[batch, width] float32 from transformed features shaped [batch] or [batch, 1]."""
        columns = [tf.reshape(tf.cast(transformed[transformed_name(name)], tf.float32), [-1, 1])
                   for name in self.numeric]  # fmt: skip
        for name, size in self.categorical_sizes.items():
            indices = tf.reshape(transformed[transformed_name(name)], [-1])
            columns.append(tf.one_hot(indices, size, dtype=tf.float32))
        return tf.concat(columns, axis=1)
