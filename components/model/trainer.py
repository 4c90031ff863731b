"""The TFX Trainer's run_fn: trains the Keras model on transformed examples and exports it.

TFX calls `run_fn` by module path (`components.model.trainer.run_fn`), so no wheel of user code is
built or installed at run time.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from components.features import FeatureSpec, transformed_name
from components.model.classifier import build_model
from components.model.signatures import export_saved_model
from components.model.transform import label_vocabulary_name

OOV_BUCKETS = 1


# Batches in which the training split is read into memory; the model still trains on the
# configured batch size.
READ_BATCH_SIZE = 8192
# Transform writes GZIP TFRecords; a large read buffer lets the reader take them in big blocks.
_READ_BUFFER_BYTES = 8 << 20


def _training_split(files: list[str], transform_output: tft.TFTransformOutput, label: str):
    """The transformed training examples as (features, label) arrays, read and parsed once.

    Read as a tf.data pipeline and handed to Keras, every epoch decompressed and parsed every
    record again and shuffled them through a 10,000-example buffer, which made each step several
    times slower than training itself. Transformed examples are small (a few tens of MB at a
    million rows), so Keras gets them in memory, as the notebook way does, and draws a full
    shuffle of the same examples every epoch. They are parsed a batch at a time with the
    transformed feature spec: TFX's data accessor took 13 s for 750,000 examples, this 1.3 s.
    """
    paths = sorted(path for pattern in files for path in tf.io.gfile.glob(pattern))
    batches = (
        tf.data.TFRecordDataset(paths, compression_type="GZIP", buffer_size=_READ_BUFFER_BYTES)
        .batch(READ_BATCH_SIZE)
        .map(lambda records: tf.io.parse_example(records, transform_output.transformed_feature_spec()))
    )
    columns: dict[str, list[np.ndarray]] = {}
    for batch in batches.as_numpy_iterator():
        for name, values in batch.items():
            columns.setdefault(name, []).append(values)
    features = {name: np.concatenate(parts) for name, parts in columns.items()}
    return features, features.pop(transformed_name(label))


def run_fn(fn_args: FnArgs) -> None:
    features = FeatureSpec.from_custom_config(fn_args.custom_config)
    training = fn_args.custom_config["training"]
    keras.utils.set_random_seed(training["seed"])
    transform_output = tft.TFTransformOutput(fn_args.transform_output)

    model = build_model(
        numeric=features.numeric,
        categorical_sizes={
            name: transform_output.vocabulary_size_by_name(name) + OOV_BUCKETS
            for name in features.categorical
        },
        num_classes=transform_output.vocabulary_size_by_name(label_vocabulary_name(features.label)),
        hidden_units=training["hidden_units"],
        learning_rate=training["learning_rate"],
    )
    inputs, labels = _training_split(fn_args.train_files, transform_output, features.label)
    model.fit(
        inputs,
        labels,
        batch_size=training["batch_size"],
        epochs=training["epochs"],
        shuffle=True,
        verbose=2,
    )
    export_saved_model(model, transform_output, features, fn_args.serving_model_dir)
