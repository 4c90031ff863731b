"""The Keras classifier over transformed features.

A small dense network is enough for a handful of tabular features; its size comes from the
config so that a bigger dataset can ask for more without a code change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras

from components.features import transformed_name


def build_model(
    numeric: Sequence[str],
    categorical_sizes: Mapping[str, int],
    num_classes: int,
    hidden_units: Sequence[int],
    learning_rate: float,
) -> keras.Model:
    """A softmax classifier: z-scored numerics and one-hot categoricals into dense layers.

    `categorical_sizes` counts each vocabulary plus its out-of-vocabulary bucket.
    """
    inputs = {}
    encoded = []
    for name in numeric:
        key = transformed_name(name)
        inputs[key] = keras.Input(shape=(1,), name=key, dtype="float32")
        encoded.append(inputs[key])
    for name, size in categorical_sizes.items():
        key = transformed_name(name)
        inputs[key] = keras.Input(shape=(1,), name=key, dtype="int64")
        encoded.append(keras.layers.CategoryEncoding(num_tokens=size, output_mode="one_hot")(inputs[key]))
    hidden = keras.layers.Concatenate()(encoded) if len(encoded) > 1 else encoded[0]
    for units in hidden_units:
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(hidden)
    model = keras.Model(inputs=inputs, outputs=probabilities)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model
