"""The serving signatures exported with the model.

`serving_default` takes raw features by name, one value per example, so TF Serving's REST API
accepts `{"instances": [{"island": "Biscoe", ...}]}` as it is. It answers the predicted label
under the label's own name (e.g. `species`), with `probabilities` and `classes` in vocabulary
order. `from_examples` takes serialized
tf.Examples, and `transform_features` gives TFMA the transformed label. A string feature that
may be missing is sent as "" and a numeric one as NaN; both are then imputed as in training.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_transform as tft

from components.features import FeatureSpec
from components.model.inputs import InputLayout
from components.model.transform import label_vocabulary_name

RAW_SIGNATURE = "serving_default"
EXAMPLES_SIGNATURE = "from_examples"
TRANSFORM_SIGNATURE = "transform_features"


def _as_raw_feature(value: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """Shapes a [batch] request tensor the way the raw feature spec parses it from tf.Example."""
    column = tf.reshape(value, [-1, 1])
    if isinstance(spec, tf.io.FixedLenFeature):
        return column
    present = tf.math.not_equal(column, "") if value.dtype == tf.string else ~tf.math.is_nan(column)
    indices = tf.where(present)
    return tf.SparseTensor(indices, tf.gather_nd(column, indices), tf.shape(column, out_type=tf.int64))


class ExportModule(tf.Module):
    """Holds the model, the transform layer and the class names so that SavedModel tracks them."""

    def __init__(self, model: keras.Model, transform_output: tft.TFTransformOutput, features: FeatureSpec):
        super().__init__()
        self.model = model
        self.transform_layer = transform_output.transform_features_layer()
        self.class_names = tf.constant(
            transform_output.vocabulary_by_name(label_vocabulary_name(features.label))
        )
        self._label = features.label
        self._layout = InputLayout.of(features, transform_output)
        self._raw_spec = transform_output.raw_feature_spec()
        self._serving_spec = {name: self._raw_spec[name] for name in features.inputs}

    def _transform(self, raw_features: dict) -> dict:
        """The transformed features, through the layer's `call` rather than the layer itself.

        Called as a Keras layer, the tf.Transform layer records its inputs, and `tf.saved_model.save`
        then serializes it the legacy tf_keras way: it traces the layer's call functions and a default
        signature again, with AutoGraph, which took about 8 of the export's 10 s and added functions
        nobody loads. Its tables and assets are tracked either way, so the signatures are the same.
        """
        return self.transform_layer.call(raw_features)

    def _predict(self, raw_features: dict) -> dict:
        probabilities = self.model(self._layout.matrix(self._transform(raw_features)))
        batch = tf.shape(probabilities)[0]
        return {
            self._label: tf.gather(self.class_names, tf.argmax(probabilities, axis=1)),
            "probabilities": probabilities,
            "classes": tf.tile(self.class_names[tf.newaxis, :], [batch, 1]),
        }

    def signatures(self) -> dict:
        """The exported functions. They hold no Python control flow on tensors, so AutoGraph is off:
        converting the transform layer's code on every trace costs seconds at export."""
        request_spec = {
            name: tf.TensorSpec([None], spec.dtype, name=name) for name, spec in self._serving_spec.items()
        }

        @tf.function(autograph=False, input_signature=[request_spec])
        def serve_raw(features):
            return self._predict(
                {name: _as_raw_feature(features[name], spec) for name, spec in self._serving_spec.items()}
            )

        @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve_examples(examples):
            return self._predict(tf.io.parse_example(examples, self._serving_spec))

        @tf.function(autograph=False, input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def transform_features(examples):
            return self._transform(tf.io.parse_example(examples, self._raw_spec))

        return {
            RAW_SIGNATURE: serve_raw.get_concrete_function(),
            EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
            TRANSFORM_SIGNATURE: transform_features.get_concrete_function(),
        }


def export_saved_model(
    model: keras.Model, transform_output: tft.TFTransformOutput, features: FeatureSpec, path: str
) -> None:
    """Writes the SavedModel that TF Serving and TFMA load."""
    module = ExportModule(model, transform_output, features)
    tf.saved_model.save(module, path, signatures=module.signatures())
