"""The Evaluator's confusion matrix, counted without TFMA's general-purpose input unpacking per example.

TFMA's MultiClassConfusionMatrixPlot reads each example's label and prediction through
`metric_util.to_label_prediction_example_weight`, which serves every metric and model shape TFMA
knows (model and output names, label vocabularies, sub-keys, top-k, class weights, flattening).
Called once per example and slice, that generality took a quarter of the Evaluator's time at 1M
rows under a profiler; run for real, leaving it out saved 10-25% of a first run's Evaluator and
47% of one against a served model. This plot counts the same matrix with TFMA's own
combiner, and hands it an example's label and probabilities directly when they are plain arrays
that the general path would pass through unchanged (for one model, and for the candidate and the
baseline when TFMA keys them by model name); anything else still goes through TFMA's
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

    With a baseline, TFMA keys labels and predictions by model name ("candidate", "baseline");
    the name is looked up as TFMA's reader looks it up. A class rather than a closure so that
    Beam can pickle it for worker processes.
    """

    def __init__(self, eval_config: config_pb2.EvalConfig | None):
        specs = eval_config.model_specs if eval_config else []
        self._keys = {}  # model name -> (prediction key, label key), as TFMA's reader finds them
        for spec in specs:
            # With one model TFMA names it "" whatever its spec says; the first spec of a name wins.
            self._keys.setdefault(spec.name if len(specs) > 1 else "", (spec.prediction_key, spec.label_key))

    def __call__(
        self,
        inputs: metric_types.StandardMetricInputs,
        eval_config: config_pb2.EvalConfig | None = None,
        model_name: str = "",
        output_name: str = "",
        example_weighted: bool = False,
        **options,
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        prediction_key, label_key = self._keys.get(model_name, ("", ""))
        if prediction_key and not (output_name or example_weighted):
            label = _label_of(inputs.label, model_name, label_key)
            predictions = _predictions_of(inputs.prediction, model_name)
            probabilities = predictions.get(prediction_key) if isinstance(predictions, Mapping) else None
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


def _label_of(label: Any, model_name: str, label_key: str) -> Any:
    """The label as TFMA's reader finds it, or None where that takes more than one plain lookup.

    TFMA's reader looks a keyed label up first by the label key, then by the model name, and
    either may also match keys prefixed with "name/"; those cases are left to it.
    """
    if not isinstance(label, Mapping):
        return label
    if not model_name or model_name not in label or any(_matches(key, label_key) for key in label):
        return None
    return label[model_name]


def _predictions_of(predictions: Any, model_name: str) -> Any:
    """The model's outputs as TFMA's reader finds them, or None where that is not a plain lookup."""
    if not model_name:
        return predictions
    if not isinstance(predictions, Mapping) or model_name not in predictions:
        return None
    return predictions[model_name]


def _matches(key: Any, name: str) -> bool:
    return bool(name) and (not isinstance(key, str) or key == name or key.startswith(name + "/"))


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
) -> metric_types.MetricComputations:
    """The shared matrix computation for `key`'s model and output, then `derive(matrices)` under `key`."""
    computations = top_class_matrices(eval_config, key.model_name, key.output_name, key.example_weighted)
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
    return derived_from_matrices(key, _as_plot, eval_config)


def _as_plot(matrices: confusion.Matrices):
    return matrices.to_proto().multi_class_confusion_matrix_at_thresholds
