"""The Keras classifier over the model's input matrix (components/model/inputs.py).

A small dense network is enough for a handful of tabular features; its size comes from the
config so that a bigger dataset can ask for more without a code change.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

# Keras runs this many batches per call of its compiled train step. The optimizer takes the same
# steps on the same batches; what changes is that the per-call cost (Python, dispatch), which
# outweighs the arithmetic of a network this small, is paid once per 32 batches: at a million
# rows, `fit` took about a third of the time it takes with one batch per call (9 s against 25 s).
STEPS_PER_EXECUTION = 32


def build_model(
    width: int, num_classes: int, hidden_units: Sequence[int], learning_rate: float
) -> keras.Model:
    """A softmax classifier: the `width` input columns into dense layers."""
    model = keras.Sequential(
        [keras.Input(shape=(width,), name="features")]
        + [keras.layers.Dense(units, activation="relu") for units in hidden_units]
        + [keras.layers.Dense(num_classes, activation="softmax", name="probabilities")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model
