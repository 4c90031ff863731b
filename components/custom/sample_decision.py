"""Whether a blessing decided on a random sample of the eval split is the whole split's decision.

The blessing compares two proportions with fixed bars: the candidate's accuracy with the minimum,
and its accuracy minus the served model's with the allowed drop. On a sample of n of the split's
N examples each estimate has a standard error, and the sample's decision is kept only when every
estimate is further than MARGIN_IN_STANDARD_ERRORS of them from its bar. Under the normal
approximation a decision that clear is wrong about once in 30,000 checks; anything closer is
decided on the whole split instead. The errors are taken on the safe side:
- accuracy against a minimum t: sqrt(t(1-t)/n), the score test's error at the bar itself, which
  stays honest when a sample happens to hold no mistakes;
- the change against the served model, measured on the same examples: an example moves the
  difference only when the two models disagree on it, which needs at least one of them to be
  wrong, so its variance is at most the two error rates added (plus three errors each, the 95%
  bound when a sample shows none);
- both shrunk by the finite-population factor sqrt((N-n)/(N-1)), since the split is all there is.

Only thresholds of that form can be judged on a sample; an eval config with any other threshold
(another metric, another slice, an upper bound, a relative change) is evaluated whole.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import config_pb2

MARGIN_IN_STANDARD_ERRORS = 4.0
_ERRORS_WHEN_NONE_SEEN = 3


@dataclasses.dataclass(frozen=True)
class AccuracyBars:
    minimum: float | None  # the candidate's accuracy must be at least this
    min_change: float | None  # candidate minus served model must be at least this


@dataclasses.dataclass(frozen=True)
class Check:
    name: str
    margin: float  # estimate minus bar: passes when not negative
    standard_error: float

    @property
    def clear(self) -> bool:
        return abs(self.margin) > MARGIN_IN_STANDARD_ERRORS * self.standard_error

    @property
    def passes(self) -> bool:
        return self.margin >= 0


def accuracy_bars(eval_config: config_pb2.EvalConfig, metric_class: str) -> AccuracyBars | None:
    """The bars on `metric_class` over the overall slice, or None if the config has any other threshold."""
    bars = None
    for spec in eval_config.metrics_specs:
        if spec.thresholds or spec.per_slice_thresholds or spec.cross_slice_thresholds:
            return None
        for metric in spec.metrics:
            if not _has_threshold(metric):
                continue
            if bars or metric.class_name != metric_class or not _overall_only(metric):
                return None
            bars = _bars(metric.per_slice_thresholds[0].threshold)
            if bars is None:
                return None
    return bars


def _has_threshold(metric: config_pb2.MetricConfig) -> bool:
    return metric.HasField("threshold") or bool(metric.per_slice_thresholds or metric.cross_slice_thresholds)


def _overall_only(metric: config_pb2.MetricConfig) -> bool:
    return (
        not metric.HasField("threshold")
        and not metric.cross_slice_thresholds
        and len(metric.per_slice_thresholds) == 1
        and list(metric.per_slice_thresholds[0].slicing_specs) == [config_pb2.SlicingSpec()]
    )


def _bars(threshold: config_pb2.MetricThreshold) -> AccuracyBars | None:
    value, change = threshold.value_threshold, threshold.change_threshold
    if value.HasField("upper_bound") or change.HasField("relative"):
        return None
    higher_is_better = change.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER
    if threshold.HasField("change_threshold") and not higher_is_better:
        return None
    return AccuracyBars(
        minimum=value.lower_bound.value if value.HasField("lower_bound") else None,
        min_change=change.absolute.value if change.HasField("absolute") else None,
    )


def overall_accuracies(evaluation_uri: str, metric_name: str) -> tuple[float, float | None]:
    """The candidate's and the served model's (None without one) accuracy over the overall slice."""
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        by_model = {
            entry.key.model_name: entry.value.double_value.value
            for entry in metrics.metric_keys_and_values
            if entry.key.name == metric_name and not entry.key.is_diff
        }
        baseline = by_model.pop(tfma.BASELINE_KEY, None)
        [candidate] = by_model.values()
        return candidate, baseline
    raise ValueError(f"{evaluation_uri} holds no metrics for the overall slice")


def checks(
    bars: AccuracyBars, candidate: float, baseline: float | None, size: int, population: int
) -> list[Check]:
    """One check per bar that applies: the change only when there is a served model to compare with."""
    shrink = math.sqrt((population - size) / (population - 1)) if population > 1 else 0.0
    found = []
    if bars.minimum is not None:
        spread = bars.minimum * (1 - bars.minimum)
        found.append(Check("accuracy", candidate - bars.minimum, shrink * math.sqrt(spread / size)))
    if bars.min_change is not None and baseline is not None:
        disagreement = min(1.0, (1 - candidate) + (1 - baseline) + 2 * _ERRORS_WHEN_NONE_SEEN / size)
        found.append(
            Check(
                "change against the served model",
                (candidate - baseline) - bars.min_change,
                shrink * math.sqrt(disagreement / size),
            )
        )
    return found
