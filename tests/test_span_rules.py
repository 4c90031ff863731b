"""The span gate's rules: no worse on the earlier spans together, no worse (or, for feedback, better) on
the newest. Pure counting, no TensorFlow."""

from __future__ import annotations

from components.custom.span_rules import Counts, GateRules, pooled, refusals

NEW = 2
RULES = GateRules(newest_span=NEW, max_accuracy_drop=0.0, newest_must_improve=False)
FEEDBACK = GateRules(newest_span=NEW, max_accuracy_drop=0.0, newest_must_improve=True)


def test_a_candidate_as_good_everywhere_passes_and_nothing_served_means_nothing_to_compare():
    by_span = {0: Counts(80, 79, 79), 1: Counts(20, 20, 20), NEW: Counts(40, 36, 36)}
    assert refusals(by_span, RULES) == []
    assert refusals({0: Counts(80, 10, None), NEW: Counts(40, 1, None)}, FEEDBACK) == []


def test_a_loss_on_the_earlier_spans_together_is_refused_even_when_the_new_span_wins_big():
    # Better overall (40+30 vs 20+31 right answers), worse on the old data by one example.
    by_span = {0: Counts(31, 30, 31), NEW: Counts(40, 40, 20)}
    (reason,) = refusals(by_span, FEEDBACK)
    assert reason.startswith(
        "accuracy on the earlier data (span 0, n=31) is 0.968 against the served model's 1.000"
    )
    assert "at most 0.0 lower is allowed" in reason


def test_the_earlier_spans_are_pooled_so_one_small_span_does_not_decide_alone():
    by_span = {0: Counts(10, 9, 10), 1: Counts(90, 90, 89), NEW: Counts(40, 40, 40)}
    assert refusals(by_span, RULES) == []
    assert pooled([by_span[0], by_span[1]]) == Counts(100, 99, 99)


def test_the_margin_allows_a_drop_up_to_max_accuracy_drop():
    by_span = {0: Counts(100, 95, 100), NEW: Counts(40, 40, 40)}
    assert refusals(by_span, GateRules(NEW, 0.05, False)) == []
    assert len(refusals(by_span, GateRules(NEW, 0.04, False))) == 1


def test_a_feedback_span_must_be_strictly_better_a_data_span_only_no_worse():
    tie = {0: Counts(80, 79, 79), NEW: Counts(40, 30, 30)}
    assert refusals(tie, RULES) == []
    (reason,) = refusals(tie, FEEDBACK)
    assert "span 2, n=40) is 0.750, no better than the served model's 0.750" in reason
    worse = {0: Counts(80, 79, 79), NEW: Counts(40, 29, 30)}
    assert "at most 0.0 lower is allowed" in refusals(worse, RULES)[0]


def test_a_feedback_span_without_eval_examples_cannot_show_an_improvement():
    by_span = {0: Counts(80, 79, 79), NEW: Counts(0, 0, 0)}
    assert refusals(by_span, RULES) == []
    assert refusals(by_span, FEEDBACK) == [
        "the new data (span 2) has no eval examples, so no improvement on it can be shown"
    ]
