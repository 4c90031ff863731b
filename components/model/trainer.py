"""The TFX Trainer's run_fn: trains the Keras model on transformed examples and exports it.

TFX calls `run_fn` by module path (`components.model.trainer.run_fn`), so no wheel of user code is
built or installed at run time.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import DataAccessor, FnArgs
from tfx_bsl.public import tfxio

from components.features import FeatureSpec, transformed_name
from components.model.classifier import build_model
from components.model.signatures import export_saved_model
from components.model.transform import label_vocabulary_name

OOV_BUCKETS = 1


def _dataset(
    files: list[str],
    data_accessor: DataAccessor,
    transform_output: tft.TFTransformOutput,
    label: str,
    batch_size: int,
    seed: int,
) -> tf.data.Dataset:
    """One pass over the transformed examples, as (features, label) batches."""
    return data_accessor.tf_dataset_factory(
        files,
        tfxio.TensorFlowDatasetOptions(
            batch_size=batch_size,
            label_key=transformed_name(label),
            num_epochs=1,
            shuffle_seed=seed,
        ),
        transform_output.transformed_metadata.schema,
    )


def run_fn(fn_args: FnArgs) -> None:
    features = FeatureSpec.from_custom_config(fn_args.custom_config)
    training = fn_args.custom_config["training"]
    keras.utils.set_random_seed(training["seed"])
    transform_output = tft.TFTransformOutput(fn_args.transform_output)

    def dataset(files):
        return _dataset(
            files,
            fn_args.data_accessor,
            transform_output,
            features.label,
            training["batch_size"],
            training["seed"],
        )

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
    model.fit(
        dataset(fn_args.train_files),
        epochs=training["epochs"],
        verbose=2,
    )
    export_saved_model(model, transform_output, features, fn_args.serving_model_dir)
