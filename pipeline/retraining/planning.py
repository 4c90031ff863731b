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
    # Earlier spans the run needs from ExampleGen: the window's older spans, and the span the
    # drift check compares the newest with.
    earlier_spans: tuple[int, ...]
    # The span a feedback span's drift is measured against: the newest span the served model was
    # trained on. None: the span before the newest.
    drift_baseline: int | None = None

    @property
    def window_rows(self) -> int:
        return sum(span.rows for span in self.window)


def _window(kept: list[Span], window_spans: int) -> tuple[Span, ...]:
    """The newest `window_spans` spans of data, and every feedback span since the oldest of them.

    Feedback spans (labeled requests of a quality dip) do not count: a run of dips must not push the
    data the served model was trained on out of the window and leave the feedback alone.
    """
    data = [span for span in kept if not span.feedback] or kept
    oldest = data[-window_spans] if len(data) >= window_spans else data[0]
    return tuple(span for span in kept if span.number >= oldest.number)


def plan_retrain(
    spans: list[Span], rejected: set[int], window_spans: int, served_training_spans: list[int] = ()
) -> RetrainPlan:
    """The plan for a retrain on the newest of `spans`, which must not be empty.

    The newest span is always tried, even if it was rejected before: a person may have fixed the
    schema or accepted its drift since. `served_training_spans`: the spans the served model was
    trained on, the baseline of a feedback span.
    """
    newest = spans[-1]
    excluded = tuple(sorted(number for number in rejected if number != newest.number))
    kept = [span for span in spans if span.number not in excluded]
    window = _window(kept, window_spans)
    baseline = None
    if newest.feedback:
        candidates = [n for n in served_training_spans if n != newest.number and n not in excluded]
        baseline = max(candidates, default=None)
    previous = [span.number for span in kept[-2:-1]]
    needed = {span.number for span in window[:-1]} | set(previous) | ({baseline} - {None})
    return RetrainPlan(
        newest=newest,
        excluded=excluded,
        window=window,
        earlier_spans=tuple(sorted(needed)),
        drift_baseline=baseline,
    )


def already_handled(newest: Span, last_retrain: dict | None) -> bool:
    """Whether a finished retrain already ran on this newest span (for `--when-new-data`)."""
    return last_retrain is not None and last_retrain["span"] >= newest.number


def spans_to_read(plan: RetrainPlan, already_read: set[int]) -> list[int]:
    """The earlier spans that ExampleGen has not read yet: spans that arrived between retrains."""
    return sorted(set(plan.earlier_spans) - already_read)
