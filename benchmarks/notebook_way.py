"""The notebook way, for comparison with the pipeline: what a data scientist writes before there is one.

Pandas reads the raw CSV, drops rows without a label and holds out a quarter at random. Then:
- `--model lean` (the default, "the lean notebook"): numerics z-scored with the training mean and
  deviation (a missing value becomes 0, the mean), categoricals one-hot over the training values
  (a missing or unseen value is all zeros), all concatenated into one float matrix; a Sequential
  MLP with the config's hidden units, Adam and its learning rate; evaluated and exported as a
  SavedModel. This is what the pipeline is measured against.
- `--model project` ("the project's model in a notebook"): the same matrix, trained with the
  pipeline's own model (`components.model.classifier.build_model`), not exported. Set beside the
  lean notebook and the Trainer, it tells the model's own cost from the pipeline's.

No validation, no schema, no lineage. Prints one JSON line with the timings, including `fit_s`,
the time of Keras's `fit` alone, which the Trainer's own `fit` is compared against.

Usage: python benchmarks/notebook_way.py RAW_CSV [--config FILE] [--model lean|project]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.monotonic()
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.model.classifier import build_model  # noqa: E402
from pipeline.config.settings import load_settings  # noqa: E402

EVAL_FRACTION = 0.25
MODELS = {"lean": "lean notebook", "project": "project's model in a notebook"}


def _z_scores(frame: pd.DataFrame, train: pd.DataFrame, name: str) -> np.ndarray:
    mean, std = train[name].mean(), train[name].std() or 1.0
    return ((frame[name] - mean) / std).fillna(0.0).to_numpy("float32")


def lean_matrix(frame: pd.DataFrame, train: pd.DataFrame, features) -> np.ndarray:
    """One float matrix: z-scored numerics, then each categorical one-hot over its training values."""
    columns = [_z_scores(frame, train, name)[:, None] for name in features.numeric]
    for name in features.categorical:
        vocabulary = sorted(train[name].dropna().unique())
        one_hot = pd.get_dummies(pd.Categorical(frame[name], categories=vocabulary), dtype="float32")
        columns.append(one_hot.to_numpy())
    return np.concatenate(columns, axis=1)


def lean_model(width: int, num_classes: int, training) -> keras.Model:
    model = keras.Sequential(
        [keras.Input(shape=(width,))]
        + [keras.layers.Dense(units, activation="relu") for units in training.hidden_units]
        + [keras.layers.Dense(num_classes, activation="softmax")]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=training.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--model", choices=sorted(MODELS), default="lean")
    args = parser.parse_args()
    settings = load_settings(args.config)
    training, features = settings.training, settings.features
    imported = time.monotonic()

    frame = pd.read_csv(args.csv, na_values=list(features.missing_values)).dropna(subset=[features.label])
    rng = np.random.default_rng(training.seed)
    held_out = rng.random(len(frame)) < EVAL_FRACTION
    train, evaluation = frame[~held_out], frame[held_out]
    classes = sorted(train[features.label].unique())
    encode = {value: i for i, value in enumerate(classes)}
    train_labels = train[features.label].map(encode).to_numpy("int64")
    eval_labels = evaluation[features.label].map(encode).fillna(-1).to_numpy("int64")
    keras.utils.set_random_seed(training.seed)
    train_inputs = lean_matrix(train, train, features)
    eval_inputs = lean_matrix(evaluation, train, features)
    width = train_inputs.shape[1]
    if args.model == "lean":
        model = lean_model(width, len(classes), training)
    else:
        model = build_model(width, len(classes), training.hidden_units, training.learning_rate)
    prepared = time.monotonic()

    model.fit(train_inputs, train_labels, batch_size=training.batch_size, epochs=training.epochs, verbose=0)
    trained = time.monotonic()
    _, accuracy = model.evaluate(eval_inputs, eval_labels, batch_size=4096, verbose=0)
    evaluated = time.monotonic()
    if args.model == "lean":
        with tempfile.TemporaryDirectory(prefix="notebook-") as scratch:
            model.export(str(Path(scratch) / "model"), verbose=False)
    done = time.monotonic()
    print(
        json.dumps(
            {
                "model": MODELS[args.model],
                "rows": len(frame),
                "import_s": imported - STARTED,
                "prepare_s": prepared - imported,
                "fit_s": trained - prepared,
                "evaluate_s": evaluated - trained,
                "export_s": done - evaluated,
                "total_s": done - STARTED,
                "eval_accuracy": accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
