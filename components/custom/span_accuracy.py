"""Accuracy of a model on each span's eval split, read straight from ExampleGen's files.

TFMA slices by feature values, and a span is no feature of an example: it is which Examples
artifact the example came from. So the span gate (components/custom/span_gate.py) counts right
answers itself, a batch at a time through the model's `from_examples` signature, which parses the
raw tf.Examples exactly as serving does. The labels are read from the same serialized examples.
"""

from __future__ import annotations

import tensorflow as tf
from tfx import types
from tfx.components.example_gen.utils import SPAN_PROPERTY_NAME
from tfx.types import artifact_utils

from components.custom.span_rules import Counts
from components.model.signatures import EXAMPLES_SIGNATURE

EVAL_SPLIT = "eval"
_BATCH = 4096


def span_of(examples: types.Artifact) -> int:
    return examples.get_int_custom_property(SPAN_PROPERTY_NAME)


def _eval_records(examples: types.Artifact) -> tf.data.Dataset:
    pattern = f"{artifact_utils.get_split_uri([examples], EVAL_SPLIT)}/*"
    files = tf.io.gfile.glob(pattern)
    return tf.data.TFRecordDataset(files, compression_type="GZIP").batch(_BATCH)


def _labels(serialized: tf.Tensor, label_key: str) -> tf.Tensor:
    spec = {label_key: tf.io.FixedLenFeature([], tf.string, default_value="")}
    return tf.io.parse_example(serialized, spec)[label_key]


def _correct(predict, serialized: tf.Tensor, labels: tf.Tensor, label_key: str) -> int:
    predicted = predict(examples=serialized)[label_key]
    return int(tf.math.count_nonzero(tf.equal(predicted, labels)))


def span_counts(
    window: list[types.Artifact], candidate_path: str, served_path: str | None, label_key: str
) -> dict[int, Counts]:
    """Each span's eval examples and right answers, by span number."""
    candidate = tf.saved_model.load(candidate_path).signatures[EXAMPLES_SIGNATURE]
    served = tf.saved_model.load(served_path).signatures[EXAMPLES_SIGNATURE] if served_path else None
    counts = {}
    for examples in window:
        total = candidate_correct = served_correct = 0
        for serialized in _eval_records(examples):
            labels = _labels(serialized, label_key)
            total += int(tf.shape(serialized)[0])
            candidate_correct += _correct(candidate, serialized, labels, label_key)
            if served is not None:
                served_correct += _correct(served, serialized, labels, label_key)
        counts[span_of(examples)] = Counts(total, candidate_correct, served_correct if served else None)
    return counts
