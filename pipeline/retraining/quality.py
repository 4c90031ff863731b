"""`penguins retrain --when-quality-dips`: retrain when the served model's live accuracy dipped.

`penguins monitor` decides. On a dip, the labeled logged requests (their inputs as served and
their true class) become the next span, a feedback span, through the normal ingest, and the
normal retrain runs on it: validation, drift against the data the served model was trained on,
a window that keeps that data, and the span gate (no worse on the old data, better on the new).
A dip that comes with a large shift may be refused by the schema or the drift gate; that is
meant: the loop then waits for a person (exit 5), says what to do, and keeps the labels.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path

import pandas as pd

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition.split_check import require_every_split
from pipeline.intake.spans import DuplicateSpanError, Span, ingest, list_spans, rejected_spans
from pipeline.monitoring.logged import INSTANCE, REQUEST_ID
from pipeline.monitoring.quality import LABEL, QUALITY_DIP
from pipeline.retraining.feedback import record_requests, trained_on
from pipeline.retraining.retrain import retrain, served_data
from pipeline.retraining.review import advice, review_changed
from pipeline.run.exit_codes import EXIT_DATA_REJECTED, EXIT_OK, EXIT_WAITING_FOR_REVIEW, CommandResult
from pipeline.run.run_options import RunOptions

QUALITY_DIP_TRIGGER = "quality dip"


def _write_span_source(labeled: pd.DataFrame, settings: Settings, path: Path) -> Path:
    """The labeled requests as a raw CSV in the config's columns: the true class, then the inputs."""
    spec = settings.features
    table = labeled.rename(columns={LABEL: spec.label})
    table[list(spec.columns)].to_csv(path, index=False, na_rep="")
    return path


def _keys(labeled: pd.DataFrame) -> list[tuple[str, int]]:
    return list(zip(labeled[REQUEST_ID], labeled[INSTANCE].map(int), strict=True))


def _not_trained_on(labeled: pd.DataFrame, workspace: Workspace) -> pd.DataFrame:
    done = trained_on(workspace)
    return labeled[[key not in done for key in _keys(labeled)]]


def _feedback_span(labeled: pd.DataFrame, settings: Settings, workspace: Workspace, when: str) -> Span:
    """The labeled requests as the next span, or the span that holds them already (an earlier attempt)."""
    source = f"{len(labeled)} labeled requests of the quality dip found at {when}"
    from pipeline.run.console import captured_output

    # The split check imports TFX's ExampleGen, whose warnings go to the log.
    with tempfile.TemporaryDirectory() as scratch, captured_output(workspace.log_dir / "monitor.log"):
        path = _write_span_source(labeled, settings, Path(scratch) / "labeled-requests.csv")
        try:
            span = ingest(
                [path],
                source,
                workspace.spans,
                settings.features,
                check_splits=functools.partial(require_every_split, settings),
                feedback=True,
            )
        except DuplicateSpanError as duplicate:
            return duplicate.span
    record_requests(span, _keys(labeled))
    return span


def _refusal(span: Span, rejection: dict) -> str:
    if rejection.get("drifted") and not rejection.get("anomalies"):
        return f"drift blocked the retrain ({', '.join(rejection['drifted'])})"
    problems = "; ".join(rejection.get("anomalies") or []) or rejection.get("reason", "")
    return f"the schema refused span {span.number} ({problems})"


def _waiting(outcome: dict, message: str) -> CommandResult:
    print(message, file=sys.stderr)
    return CommandResult(EXIT_WAITING_FOR_REVIEW, {**outcome, "message": message})


def retrain_when_quality_dips(
    settings: Settings, workspace: Workspace, options: RunOptions, since_seconds: float | None, trigger: str
) -> CommandResult:
    """Monitors; on a dip, makes the labeled requests a span and retrains (the caller holds the lock)."""
    from pipeline.run.console import captured_output

    with captured_output(workspace.log_dir / "monitor.log"):  # TensorFlow's noise goes to the log
        from pipeline.monitoring.monitor import labeled_requests, monitor

        checked = monitor(settings, workspace, since_seconds)
        labeled = _not_trained_on(labeled_requests(settings, workspace, since_seconds), workspace)
    found = {
        key: checked[key] for key in ("decision", "reason", "report", "requests", "instances", "labeled")
    }
    if checked["decision"] != QUALITY_DIP:
        print(f"No retrain: monitor decided {checked['decision']} ({checked['reason']}).")
        return CommandResult(EXIT_OK, {"retrained": False, "monitor": found})
    print(f"Quality dipped: {checked['reason']}.", flush=True)
    if labeled.empty:
        message = (
            "No retrain: every labeled request is in a span that a retrain trained on already. Label "
            "requests served since (`penguins labels add`); `penguins history` shows what those retrains did."
        )
        print(message)
        return CommandResult(EXIT_OK, {"retrained": False, "monitor": found, "message": message})
    served_data(settings, workspace)  # before the feedback span takes a number
    span = _feedback_span(labeled, settings, workspace, checked["started"])
    outcome = {"retrained": False, "monitor": found, "labeled_span": span.number}
    newest = list_spans(workspace.spans)[-1]
    rejection = rejected_spans(workspace.spans).get(span.number)
    if span.number != newest.number:
        message = (
            f"No retrain: these labeled requests are span {span.number} already, and span {newest.number} "
            "arrived since; `penguins retrain` trains on them in its window"
        )
        if rejection:
            return _waiting(
                outcome, f"{message}, but span {span.number} was refused: {_refusal(span, rejection)}."
            )
        print(message + ".")
        return CommandResult(EXIT_OK, {**outcome, "message": message})
    if rejection and not review_changed(rejection, settings):
        return _waiting(
            outcome,
            f"Quality dipped, and the labeled requests are still refused: {_refusal(span, rejection)}. "
            f"Nothing changed since; waiting for a person. To go on: {advice(span.number, rejection)}.",
        )
    print(
        f"  The {span.rows} labeled requests are span {span.number} ({span.path}); retraining on it.",
        flush=True,
    )
    result = retrain(settings, workspace, options, trigger=trigger)
    result.outcome.update({**outcome, "retrained": result.exit_code != EXIT_WAITING_FOR_REVIEW})
    if result.exit_code == EXIT_DATA_REJECTED:
        rejection = rejected_spans(workspace.spans).get(span.number, {})
        return _waiting(
            result.outcome,
            f"Quality dipped AND {_refusal(span, rejection)}; the labels stay for the next attempt. "
            f"A person decides. To go on: {advice(span.number, rejection)}.",
        )
    return result
