"""When a retrained candidate may replace the served model, judged span by span.

The Evaluator compares candidate and served model on the whole window's eval data at once. A
candidate can win there and still be worse on the data the served model was trained on, when the
newest span is large or different enough to outweigh it: the window's average hides a regression.
So, with a model served, a candidate must also be
- no worse than the served model on the earlier spans' eval data taken together, within
  `evaluation.max_accuracy_drop` (the old data must not pay for the new), and
- on the newest span: better than the served model when it is a feedback span (the labeled requests
  of a quality dip: a retrain that does not improve on the data that dipped has no reason to
  replace anything), otherwise no worse within the same margin.
Kept free of TensorFlow and TFX, so every rule is tested in milliseconds.
"""

from __future__ import annotations

import dataclasses

# Without a margin, floating-point noise in equal accuracies could fail "no worse".
_TOLERANCE = 1e-10


@dataclasses.dataclass(frozen=True)
class Counts:
    """Eval examples and right answers of the candidate and, when a model is served, of that model."""

    examples: int
    candidate_correct: int
    served_correct: int | None

    @property
    def candidate(self) -> float | None:
        return self.candidate_correct / self.examples if self.examples else None

    @property
    def served(self) -> float | None:
        return (
            self.served_correct / self.examples if self.examples and self.served_correct is not None else None
        )


@dataclasses.dataclass(frozen=True)
class GateRules:
    newest_span: int
    max_accuracy_drop: float
    newest_must_improve: bool  # the newest span is a feedback span


def pooled(counts: list[Counts]) -> Counts:
    served = [c.served_correct for c in counts]
    return Counts(
        sum(c.examples for c in counts),
        sum(c.candidate_correct for c in counts),
        None if None in served or not counts else sum(served),
    )


def _spans(numbers: list[int]) -> str:
    return ("span " if len(numbers) == 1 else "spans ") + ", ".join(map(str, numbers))


def refusals(by_span: dict[int, Counts], rules: GateRules) -> list[str]:
    """Why the candidate may not replace the served model; empty when it may (or nothing is served)."""
    if not by_span or any(counts.served_correct is None for counts in by_span.values()):
        return []
    reasons = []
    earlier_spans = sorted(span for span in by_span if span != rules.newest_span)
    earlier = pooled([by_span[span] for span in earlier_spans])
    margin = rules.max_accuracy_drop + _TOLERANCE
    if earlier.examples and earlier.candidate < earlier.served - margin:
        reasons.append(
            f"accuracy on the earlier data ({_spans(earlier_spans)}, n={earlier.examples}) is "
            f"{earlier.candidate:.3f} against the served model's {earlier.served:.3f}; "
            f"at most {rules.max_accuracy_drop} lower is allowed"
        )
    newest = by_span.get(rules.newest_span)
    where = f"the new data (span {rules.newest_span}"
    if newest is None or not newest.examples:
        if rules.newest_must_improve:
            reasons.append(f"{where}) has no eval examples, so no improvement on it can be shown")
    elif rules.newest_must_improve and newest.candidate_correct <= newest.served_correct:
        reasons.append(
            f"accuracy on {where}, n={newest.examples}) is {newest.candidate:.3f}, no better than the "
            f"served model's {newest.served:.3f}; a quality-dip retrain must improve on the data that dipped"
        )
    elif (
        not rules.newest_must_improve
        and newest.candidate < newest.served - rules.max_accuracy_drop - _TOLERANCE
    ):
        reasons.append(
            f"accuracy on {where}, n={newest.examples}) is {newest.candidate:.3f} against the served "
            f"model's {newest.served:.3f}; at most {rules.max_accuracy_drop} lower is allowed"
        )
    return reasons
