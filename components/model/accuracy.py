"""The Evaluator's accuracy, read off the confusion matrix that TFMA computes for the run report anyway.

TFMA wraps Keras' SparseCategoricalAccuracy in a second per-example combiner that batches every
example of every slice through Keras (and AutoGraph-converts its update on first use); that cost
about half the Evaluator's time. Here accuracy is derived from the confusion matrix behind the
run report's plot (`confusion_matrix.py`; its top-1 prediction at threshold 0 is the argmax, exactly
Keras' rule), which TFMA then computes once for both. The value is the same as Keras' to the bit: Keras
keeps the count of correct and of all examples in float32 (exact integers below 2**24) and divides
them in float32, and so does `_accuracy`. tests/test_pipeline_e2e.py checks this on a real run.
"""

from __future__ import annotations

import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util

from components.model.confusion_matrix import TOP_CLASS_THRESHOLD, derived_from_matrices

NAME = "sparse_categorical_accuracy"


class SparseCategoricalAccuracy(metric_types.Metric):
    """Share of examples whose most probable class is the label, under Keras' metric name."""

    def __init__(self, name: str = NAME):
        super().__init__(metric_util.merge_per_key_computations(_accuracy_computations), name=name)


metric_types.register_metric(SparseCategoricalAccuracy)


def _accuracy(matrices: dict) -> np.float32:
    matrix = matrices[TOP_CLASS_THRESHOLD]
    correct = sum(weight for (actual, predicted), weight in matrix.items() if actual == predicted)
    total = sum(matrix.values())
    return np.float32(correct) / np.float32(total) if total else np.float32(0.0)


def _accuracy_computations(
    name: str = NAME,
    eval_config=None,
    model_name: str = "",
    output_name: str = "",
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    key = metric_types.MetricKey(
        name=name, model_name=model_name, output_name=output_name, example_weighted=example_weighted
    )
    # The same computation as the plot's: TFMA keeps one of identical computations, so both share it.
    return derived_from_matrices(key, _accuracy, eval_config)
