"""The notebook way, for comparison with the pipeline: pandas and the same Keras model, one process.

What a data scientist would run before there is a pipeline: read the raw CSV with pandas, drop
rows without a label, hold out a quarter, impute and z-score numerics with the training mean
and deviation, index categoricals (unseen and missing values share one extra bucket), train
`components.model.classifier.build_model` with the config's training settings, and report eval accuracy.
No validation, no schema, no lineage, no export. Prints one JSON line with the timings.

Usage: python benchmarks/notebook_way.py RAW_CSV [--config FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

STARTED = time.monotonic()
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from components.features import transformed_name  # noqa: E402
from components.model.classifier import build_model  # noqa: E402
from pipeline.config.settings import load_settings  # noqa: E402

EVAL_FRACTION = 0.25


def _features(frame: pd.DataFrame, train: pd.DataFrame, settings) -> dict[str, np.ndarray]:
    columns = {}
    for name in settings.features.numeric:
        mean, std = train[name].mean(), train[name].std() or 1.0
        columns[transformed_name(name)] = ((frame[name] - mean) / std).fillna(0.0).to_numpy("float32")
    for name in settings.features.categorical:
        vocabulary = sorted(train[name].dropna().unique())
        index = {value: i for i, value in enumerate(vocabulary)}
        columns[transformed_name(name)] = frame[name].map(index).fillna(len(vocabulary)).to_numpy("int64")
    return {key: value.reshape(-1, 1) for key, value in columns.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--config", type=Path)
    args = parser.parse_args()
    settings = load_settings(args.config)
    training, label = settings.training, settings.features.label
    imported = time.monotonic()

    frame = pd.read_csv(args.csv, na_values=list(settings.features.missing_values)).dropna(subset=[label])
    rng = np.random.default_rng(training.seed)
    held_out = rng.random(len(frame)) < EVAL_FRACTION
    train, evaluation = frame[~held_out], frame[held_out]
    classes = sorted(train[label].unique())
    encode = {value: i for i, value in enumerate(classes)}
    prepared = time.monotonic()

    keras.utils.set_random_seed(training.seed)
    model = build_model(
        settings.features.numeric,
        {name: train[name].nunique() + 1 for name in settings.features.categorical},
        len(classes),
        training.hidden_units,
        training.learning_rate,
    )
    model.fit(
        _features(train, train, settings),
        train[label].map(encode).to_numpy("int64"),
        batch_size=training.batch_size,
        epochs=training.epochs,
        verbose=0,
    )
    trained = time.monotonic()
    _, accuracy = model.evaluate(
        _features(evaluation, train, settings),
        evaluation[label].map(encode).fillna(-1).to_numpy("int64"),
        batch_size=4096,
        verbose=0,
    )
    done = time.monotonic()
    print(
        json.dumps(
            {
                "rows": len(frame),
                "import_s": imported - STARTED,
                "pandas_s": prepared - imported,
                "train_s": trained - prepared,
                "evaluate_s": done - trained,
                "total_s": done - STARTED,
                "eval_accuracy": accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
