"""The Evaluator's confusion matrix, counted without TFMA's general-purpose input unpacking per example.

TFMA's MultiClassConfusionMatrixPlot reads each example's label and prediction through
`metric_util.to_label_prediction_example_weight`, which serves every metric and model shape TFMA
knows (model and output names, label vocabularies, sub-keys, top-k, class weights, flattening).
Called once per example and slice, that generality took a quarter of the Evaluator's time at 1M
rows under a profiler (10% of it run for real). This plot counts the same matrix with TFMA's own
combiner, and hands it an example's label and probabilities directly when they are plain arrays
that the general path would pass through unchanged; anything else still goes through TFMA's
function. The plot keeps TFMA's name, so the evaluation it writes is the same, key for key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as confusion
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_plot as tfma_plot
from tensorflow_model_analysis.proto import config_pb2

# The threshold MultiClassConfusionMatrixPlot uses by default: every example's top class counts.
TOP_CLASS_THRESHOLD = 0.0
PLOT_NAME = tfma_plot.MULTI_CLASS_CONFUSION_MATRIX_PLOT_NAME
# TFMA's weight for an unweighted example: float32 for tf-ranking's sake, which the matrix turns into float.
_UNIT_WEIGHT = np.array([1.0], dtype=np.float32)
# Label dtypes TFMA uses as they are; string labels are looked up in a vocabulary first.
_NUMERIC_KINDS = frozenset("biuf")


class LabelAndPrediction:
    """TFMA's label, prediction and weight for one example, read directly where that is exact.

    A class rather than a closure so that Beam can pickle it for worker processes.
    """

    def __init__(self, eval_config: config_pb2.EvalConfig | None):
        specs = eval_config.model_specs if eval_config else []
        # With one model TFMA names it "" whatever the spec says, as here.
        self._prediction_key = specs[0].prediction_key if len(specs) == 1 else ""

    def __call__(
        self,
        inputs: metric_types.StandardMetricInputs,
        eval_config: config_pb2.EvalConfig | None = None,
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
        **options,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        if self._prediction_key and not (model_name or output_name or example_weighted):
            label, predictions = inputs.label, inputs.prediction
            probabilities = (
                predictions.get(self._prediction_key) if isinstance(predictions, Mapping) else None
            )
            if (
                isinstance(label, np.ndarray)
                and label.size == 1
                and label.dtype.kind in _NUMERIC_KINDS
                and isinstance(probabilities, np.ndarray)
                and probabilities.ndim == 1
            ):
                yield label.reshape(1), probabilities, _UNIT_WEIGHT
                return
        yield from metric_util.to_label_prediction_example_weight(
            inputs,
            eval_config=eval_config,
            model_name=model_name,
            output_name=output_name,
            example_weighted=example_weighted,
            **options,
        )


def top_class_matrices(
    eval_config: config_pb2.EvalConfig | None,
    model_name: str,
    output_name: str,
    example_weighted: bool,
) -> metric_types.MetricComputations:
    """The matrix computation that the plot and the accuracy share (TFMA keeps one of the two)."""
    return confusion.multi_class_confusion_matrices(
        thresholds=[TOP_CLASS_THRESHOLD],
        extract_label_prediction_and_weight=LabelAndPrediction(eval_config),
        eval_config=eval_config,
        model_name=model_name,
        output_name=output_name,
        example_weighted=example_weighted,
    )


def derived_from_matrices(
    key: metric_types.MetricKey,
    derive: Callable[[confusion.Matrices], Any],
    eval_config: config_pb2.EvalConfig | None,
    example_weighted: bool,
) -> metric_types.MetricComputations:
    """The shared matrix computation, then `derive(matrices)` written under `key`."""
    computations = top_class_matrices(eval_config, key.model_name, key.output_name, example_weighted)
    matrices_key = computations[-1].keys[-1]

    def result(metrics: dict) -> dict:
        return {key: derive(metrics[matrices_key])}

    computations.append(metric_types.DerivedMetricComputation(keys=[key], result=result))
    return computations


class ConfusionMatrixPlot(metric_types.Metric):
    """TFMA's MultiClassConfusionMatrixPlot at its default threshold, under its name."""

    def __init__(self, name: str = PLOT_NAME):
        super().__init__(metric_util.merge_per_key_computations(_plot_computations), name=name)


metric_types.register_metric(ConfusionMatrixPlot)


def _plot_computations(
    name: str = PLOT_NAME,
    eval_config: config_pb2.EvalConfig | None = None,
    model_name: str = "",
    output_name: str = "",
    example_weighted: bool = False,
) -> metric_types.MetricComputations:
    key = metric_types.PlotKey(
        name=name, model_name=model_name, output_name=output_name, example_weighted=example_weighted
    )
    return derived_from_matrices(key, _as_plot, eval_config, example_weighted)


def _as_plot(matrices: confusion.Matrices):
    return matrices.to_proto().multi_class_confusion_matrix_at_thresholds
