"""What a retrain will do, decided from the spans on disk before anything runs.

Kept free of TFX and of file access, so every rule (which span is newest, which spans train,
which were rejected and stay out, which must be read first) is tested in milliseconds.
"""

from __future__ import annotations

import dataclasses

from pipeline.intake.spans import Span


@dataclasses.dataclass(frozen=True)
class RetrainPlan:
    newest: Span
    excluded: tuple[int, ...]  # rejected by an earlier retrain, so left out of the window
    window: tuple[Span, ...]  # the spans that Transform, Trainer and Evaluator see
    # Earlier spans the run needs from ExampleGen: the window's older spans, and at least the
    # previous span, which the drift check compares with the newest.
    earlier_spans: tuple[int, ...]

    @property
    def window_rows(self) -> int:
        return sum(span.rows for span in self.window)


def plan_retrain(spans: list[Span], rejected: set[int], window_spans: int) -> RetrainPlan:
    """The plan for a retrain on the newest of `spans`, which must not be empty.

    The newest span is always tried, even if it was rejected before: a person may have fixed the
    schema or accepted its drift since.
    """
    newest = spans[-1]
    excluded = tuple(sorted(number for number in rejected if number != newest.number))
    kept = [span for span in spans if span.number not in excluded]
    older = [span.number for span in kept[:-1]]
    return RetrainPlan(
        newest=newest,
        excluded=excluded,
        window=tuple(kept[-window_spans:]),
        earlier_spans=tuple(older[-max(window_spans - 1, 1) :]),
    )


def already_handled(newest: Span, last_retrain: dict | None) -> bool:
    """Whether a finished retrain already ran on this newest span (for `--when-new-data`)."""
    return last_retrain is not None and last_retrain["span"] >= newest.number


def spans_to_read(plan: RetrainPlan, already_read: set[int]) -> list[int]:
    """The earlier spans that ExampleGen has not read yet: spans that arrived between retrains."""
    return sorted(set(plan.earlier_spans) - already_read)
