"""The retrain plan: which span is newest, which train, which stay out, which are read first. No TFX."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.intake.spans import Span
from pipeline.retraining.planning import already_handled, plan_retrain, spans_to_read


def _spans(*numbers: int) -> list[Span]:
    return [Span(n, Path(f"span-{n}"), rows=10 * n, source=f"{n}.csv", digest=None) for n in numbers]


def test_the_window_is_the_newest_spans_and_the_newest_is_tried():
    plan = plan_retrain(_spans(1, 2, 3, 4), rejected=set(), window_spans=3)
    assert plan.newest.number == 4
    assert [span.number for span in plan.window] == [2, 3, 4]
    assert plan.window_rows == 90
    assert plan.earlier_spans == (2, 3)
    assert plan.excluded == ()


def test_rejected_spans_stay_out_of_the_window_but_the_newest_is_tried_again():
    plan = plan_retrain(_spans(1, 2, 3, 4), rejected={3, 4}, window_spans=3)
    assert plan.excluded == (3,)
    assert [span.number for span in plan.window] == [1, 2, 4]
    assert plan.earlier_spans == (1, 2)


def test_a_window_of_one_still_reads_the_previous_span_for_the_drift_check():
    plan = plan_retrain(_spans(1, 2, 3), rejected=set(), window_spans=1)
    assert [span.number for span in plan.window] == [3]
    assert plan.earlier_spans == (2,)


def test_the_first_span_has_nothing_earlier():
    plan = plan_retrain(_spans(1), rejected=set(), window_spans=3)
    assert [span.number for span in plan.window] == [1]
    assert plan.earlier_spans == ()


def test_only_spans_not_read_yet_are_read():
    plan = plan_retrain(_spans(1, 2, 3, 4), rejected=set(), window_spans=3)
    assert spans_to_read(plan, already_read={2}) == [3]
    assert spans_to_read(plan, already_read={1, 2, 3}) == []


def test_new_data_is_a_span_newer_than_the_last_retrain():
    newest = _spans(3)[0]
    assert not already_handled(newest, None)
    assert not already_handled(newest, {"span": 2, "run_id": "r", "exit_code": 0})
    assert already_handled(newest, {"span": 3, "run_id": "r", "exit_code": 3})


def _with_feedback(spans: list[Span], *feedback: int) -> list[Span]:
    return [dataclasses.replace(span, feedback=span.number in feedback) for span in spans]


def test_feedback_spans_do_not_push_the_data_out_of_the_window():
    spans = _with_feedback(_spans(0, 1, 2, 3, 4), 2, 3, 4)
    plan = plan_retrain(spans, rejected=set(), window_spans=2)
    assert [span.number for span in plan.window] == [0, 1, 2, 3, 4]
    assert plan.earlier_spans == (0, 1, 2, 3)


def test_a_feedback_span_is_compared_with_the_newest_span_the_served_model_was_trained_on():
    spans = _with_feedback(_spans(0, 1, 2, 3), 3)
    plan = plan_retrain(spans, rejected=set(), window_spans=3, served_training_spans=[0, 1])
    assert plan.drift_baseline == 1
    assert 1 in plan.earlier_spans
    # A data span keeps the span before it; so does feedback when nothing is served.
    assert plan_retrain(_spans(0, 1, 2, 3), set(), 3, served_training_spans=[0, 1]).drift_baseline is None
    assert plan_retrain(spans, set(), 3, served_training_spans=[]).drift_baseline is None


def test_a_rejected_span_is_no_drift_baseline_even_if_the_served_model_was_trained_on_it():
    spans = _with_feedback(_spans(0, 1, 2), 2)
    assert plan_retrain(spans, rejected={1}, window_spans=3, served_training_spans=[0, 1]).drift_baseline == 0
