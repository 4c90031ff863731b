"""A blessing decided on a sample must be the whole split's decision, on simulated splits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tensorflow_model_analysis.proto import config_pb2

from components.custom.sample_decision import MARGIN_IN_STANDARD_ERRORS, AccuracyBars, accuracy_bars, checks
from components.model.accuracy import SparseCategoricalAccuracy
from pipeline.definition.evaluation import eval_config

ACCURACY = SparseCategoricalAccuracy.__name__


def test_the_pipelines_eval_config_gives_its_two_bars(settings):
    bars = accuracy_bars(eval_config(settings), ACCURACY)
    assert bars.minimum == settings.evaluation.min_accuracy
    assert bars.min_change == pytest.approx(-settings.evaluation.max_accuracy_drop, abs=1e-9)
    assert bars.min_change <= -settings.evaluation.max_accuracy_drop


def _with_threshold(**threshold_fields) -> config_pb2.EvalConfig:
    """A config whose accuracy metric carries `threshold_fields` on the MetricConfig."""
    return config_pb2.EvalConfig(
        metrics_specs=[
            config_pb2.MetricsSpec(metrics=[config_pb2.MetricConfig(class_name=ACCURACY, **threshold_fields)])
        ]
    )


def _overall(threshold: config_pb2.MetricThreshold, slicing_specs=None) -> dict:
    return {
        "per_slice_thresholds": [
            config_pb2.PerSliceMetricThreshold(
                slicing_specs=slicing_specs or [config_pb2.SlicingSpec()], threshold=threshold
            )
        ]
    }


VALUE = config_pb2.MetricThreshold(
    value_threshold=config_pb2.GenericValueThreshold(lower_bound={"value": 0.9})
)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(_with_threshold(threshold=VALUE), id="threshold on every slice"),
        pytest.param(_with_threshold(**_overall(VALUE, [config_pb2.SlicingSpec(feature_keys=["island"])])),
                     id="threshold on a slice"),
        pytest.param(
            _with_threshold(**_overall(config_pb2.MetricThreshold(
                value_threshold=config_pb2.GenericValueThreshold(upper_bound={"value": 0.9})))),
            id="upper bound"),
        pytest.param(
            _with_threshold(**_overall(config_pb2.MetricThreshold(change_threshold=config_pb2.GenericChangeThreshold(
                direction=config_pb2.MetricDirection.HIGHER_IS_BETTER, relative={"value": -0.01})))),
            id="relative change"),
        pytest.param(
            _with_threshold(**_overall(config_pb2.MetricThreshold(change_threshold=config_pb2.GenericChangeThreshold(
                direction=config_pb2.MetricDirection.LOWER_IS_BETTER, absolute={"value": 0.01})))),
            id="lower is better"),
        pytest.param(
            config_pb2.EvalConfig(metrics_specs=[config_pb2.MetricsSpec(metrics=[
                config_pb2.MetricConfig(class_name="AUC", **_overall(VALUE))])]),
            id="another metric"),
        pytest.param(
            config_pb2.EvalConfig(metrics_specs=[config_pb2.MetricsSpec(metrics=[
                config_pb2.MetricConfig(class_name=ACCURACY, **_overall(VALUE)),
                config_pb2.MetricConfig(class_name="ExampleCount", **_overall(VALUE))])]),
            id="a second thresholded metric"),
        pytest.param(
            config_pb2.EvalConfig(metrics_specs=[config_pb2.MetricsSpec(
                metrics=[config_pb2.MetricConfig(class_name=ACCURACY, **_overall(VALUE))],
                thresholds={"auc": VALUE})]),
            id="a threshold in the spec's map"),
        pytest.param(_with_threshold(), id="no threshold at all"),
    ],
)  # fmt: skip
def test_thresholds_a_sample_cannot_judge_mean_the_whole_split(config):
    assert accuracy_bars(config, ACCURACY) is None


def test_an_overall_minimum_alone_is_judged():
    assert accuracy_bars(_with_threshold(**_overall(VALUE)), ACCURACY) == AccuracyBars(0.9, None)


def test_the_change_is_checked_only_against_a_served_model():
    bars = AccuracyBars(minimum=0.9, min_change=0.0)
    assert [c.name for c in checks(bars, 0.95, None, 1000, 100_000)] == ["accuracy"]
    assert len(checks(bars, 0.95, 0.94, 1000, 100_000)) == 2


def test_a_sample_that_is_the_whole_split_has_no_sampling_error():
    (check,) = checks(AccuracyBars(0.9, None), 0.9001, None, 5000, 5000)
    assert check.standard_error == 0 and check.clear and check.passes


def test_the_accuracy_error_is_the_score_tests_at_the_bar_even_for_a_flawless_sample():
    (check,) = checks(AccuracyBars(0.9, None), 1.0, None, 100, 10_000)
    assert check.standard_error == pytest.approx(math.sqrt(0.9 * 0.1 / 100) * math.sqrt(9900 / 9999))
    # 0.1 above the bar is only 3.3 errors away: a hundred flawless birds do not prove 90%.
    assert not check.clear


def _population(rng, size, served_accuracy, change, disagreement):
    """Which of `size` examples the served model and a candidate `change` better get right."""
    served = rng.random(size) < served_accuracy
    candidate = served.copy()
    flip_to_right = np.flatnonzero(~served)
    flip_to_wrong = np.flatnonzero(served)
    net = round(change * size)
    # Disagreements both ways around the net change: the harder case for a paired comparison.
    both_ways = min(
        int(disagreement * size / 2), len(flip_to_right) - max(net, 0), len(flip_to_wrong) - max(-net, 0)
    )
    candidate[rng.choice(flip_to_right, both_ways + max(net, 0), replace=False)] = True
    candidate[rng.choice(flip_to_wrong, both_ways + max(-net, 0), replace=False)] = False
    return candidate, served


def _simulate(trials: int, margin_in_errors: float, seed: int = 11):
    """(sample decided, whole split agreed) per trial, for splits near and far from both bars."""
    rng = np.random.default_rng(seed)
    bars = AccuracyBars(minimum=0.9, min_change=0.0)
    # The shape of the 1M-row benchmark: 250k eval examples, a sample of 20k.
    population, size = 250_000, 20_000
    outcomes = []
    for _ in range(trials):
        served_accuracy, change = rng.uniform(0.84, 0.96), rng.uniform(-0.04, 0.04)
        candidate, served = _population(rng, population, served_accuracy, change, rng.uniform(0, 0.08))
        truth = candidate.mean() >= bars.minimum and candidate.mean() - served.mean() >= bars.min_change
        rows = rng.choice(population, size, replace=False)
        found = checks(bars, candidate[rows].mean(), served[rows].mean(), size, population)
        decided = all(abs(c.margin) > margin_in_errors * c.standard_error for c in found)
        outcomes.append((decided, all(c.passes for c in found) == truth))
    return outcomes


def test_a_clear_decision_on_a_sample_is_the_whole_splits_on_simulated_splits():
    outcomes = _simulate(trials=600, margin_in_errors=MARGIN_IN_STANDARD_ERRORS)
    decided = [agreed for was_decided, agreed in outcomes if was_decided]
    assert all(decided), f"{decided.count(False)} of {len(decided)} decisions differ from the whole split's"
    # Far from the bars the sample does decide: without that, "never wrong" would be empty.
    assert len(decided) > 0.4 * len(outcomes)


def test_deciding_on_the_sample_without_a_margin_would_get_close_calls_wrong():
    """The simulation can tell a wrong rule: the sample's estimate alone disagrees with the split."""
    outcomes = _simulate(trials=600, margin_in_errors=0.0)
    assert sum(not agreed for _, agreed in outcomes) >= 5
