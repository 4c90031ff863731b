"""A retrain: the unattended job that turns newly arrived spans into a better served model.

The newest span is validated against the schema and compared with the previous span for drift;
the model is trained on a rolling window of the newest spans, evaluated against the served
model, and pushed only when blessed. A span the checks reject is marked as such, kept for a
person to look at, and left out of later windows. Every run writes an HTML report.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.intake.spans import Span, clear_rejection, list_spans, mark_rejected, rejected_spans
from pipeline.reporting.triggers import remember_trigger
from pipeline.retraining.feedback import mark_trained_on
from pipeline.retraining.planning import RetrainPlan, already_handled, plan_retrain, spans_to_read
from pipeline.retraining.review import rejection_checks
from pipeline.run.abandoned import settle_abandoned_runs
from pipeline.run.beam_options import BeamChoice
from pipeline.run.endpoints import require_reachable
from pipeline.run.exit_codes import (
    EXIT_DATA_REJECTED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WAITING_FOR_REVIEW,
    CommandResult,
)
from pipeline.run.run_options import RunOptions
from serving.store.atomic import write_json_atomically
from serving.store.model_config import served_version

LAST_RETRAIN_FILE = "last_retrain.json"


def last_retrain(workspace: Workspace) -> dict | None:
    path = workspace.root / LAST_RETRAIN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _remember_retrain(workspace: Workspace, span: int, run_id: str, exit_code: int) -> None:
    write_json_atomically(
        workspace.root / LAST_RETRAIN_FILE, {"span": span, "run_id": run_id, "exit_code": exit_code}
    )


def _refuse(exit_code: int, message: str) -> CommandResult:
    print(message, file=sys.stderr)
    return CommandResult(exit_code, {"error": message})


def retrain(
    settings: Settings,
    workspace: Workspace,
    options: RunOptions,
    *,
    when_new_data: bool = False,
    trigger: str = "command",
) -> CommandResult:
    """Plans a retrain from the spans on disk, then runs and records it (the caller holds the lock)."""
    started = time.monotonic()
    spans = list_spans(workspace.spans)
    if not spans:
        return _refuse(
            EXIT_USAGE,
            f"No data to retrain on: {workspace.spans} holds no spans. Add one with "
            "`penguins ingest --source FILE.csv` (or `penguins ingest --bundled --year 2007`).",
        )
    previous = last_retrain(workspace)
    if when_new_data and already_handled(spans[-1], previous):
        print(
            f"No new data: span {spans[-1].number} is the newest, and retrain run {previous['run_id']} "
            "already handled it. Nothing to do."
        )
        return CommandResult(EXIT_OK, {"no_new_data": True, "newest_span": spans[-1].number})
    served = served_data(settings, workspace)
    plan = plan_retrain(
        list_spans(workspace.spans),
        set(rejected_spans(workspace.spans)),
        settings.retraining.window_spans,
        served.training_spans,
    )
    serving = served_version(workspace.serving_root, settings.model_name)
    if serving is not None and all(span.feedback for span in plan.window):
        message = (
            f"Not retrained: the window holds only labeled requests (spans "
            f"{', '.join(str(span.number) for span in plan.window)}), and none of the data served version "
            f"{serving} was trained on; a model trained on them alone could be worse on everything else. "
            "Ingest that data (`penguins ingest --source FILE.csv`), then retrain again."
        )
        print(message, file=sys.stderr)
        return CommandResult(EXIT_WAITING_FOR_REVIEW, {"message": message})

    beam = options.beam(plan.window_rows)
    log_path = workspace.log_dir / f"retrain-{datetime.datetime.now():%Y%m%d-%H%M%S}.log"
    _announce(settings, plan, options.runner, beam)
    require_reachable(beam.args)
    settle_abandoned_runs(settings, workspace)
    print(f"  Full log: {log_path}", flush=True)
    return _run(settings, workspace, plan, options, beam, log_path, started, trigger)


def served_data(settings: Settings, workspace: Workspace):
    """The spans the served model was trained on, after making a served `penguins run`'s data a span."""
    from pipeline.retraining.served_data import served_data_as_spans  # reads MLMD and TFMA's results

    served = served_data_as_spans(settings, workspace)
    if served.adopted is not None:
        adopted = served.adopted
        print(f"  Span {adopted.number} now holds the {adopted.rows} rows of {adopted.source}.", flush=True)
    return served


def _announce(settings: Settings, plan: RetrainPlan, runner: str, beam: BeamChoice) -> None:
    newest = plan.newest
    print(
        f"Retraining '{settings.name}' on the newest {settings.retraining.window_spans} spans up to span "
        f"{newest.number} ({newest.rows} rows from {newest.source}), {runner} runner.",
        flush=True,
    )
    if plan.excluded:
        print(f"  Leaving out spans rejected earlier: {', '.join(map(str, plan.excluded))}")
    print(f"  Beam preset: {beam.preset} ({beam.reason})", flush=True)


def _read_earlier_spans(
    settings: Settings, workspace: Workspace, plan: RetrainPlan, runner: str, beam_args: list[str], terminal
) -> None:
    """Runs ExampleGen on spans that arrived between retrains: a window is built from ExampleGen's outputs."""
    from pipeline.definition.pipelines import create_span_reading_pipeline
    from pipeline.metadata.store import open_store, store_exists
    from pipeline.reporting.metadata import processed_spans
    from pipeline.run.runner import run_pipeline

    done = set()
    location = settings.metadata_location(workspace)
    if store_exists(location):
        done = processed_spans(open_store(location), settings.name, node_ids.SPAN_EXAMPLE_GEN)
    for span in spans_to_read(plan, done):
        print(f"  Reading span {span}, which arrived since the last retrain", file=terminal)
        tfx_pipeline = create_span_reading_pipeline(settings, workspace, span, beam_args)
        run_pipeline(tfx_pipeline, runner, lambda line: print(line, file=terminal))


def _run(
    settings: Settings,
    workspace: Workspace,
    plan: RetrainPlan,
    options: RunOptions,
    beam: BeamChoice,
    log_path,
    started: float,
    trigger: str,
) -> CommandResult:
    from pipeline.run.console import captured_output

    details = {"no_new_data": False, "newest_span": plan.newest.number, "log": str(log_path)}
    with captured_output(log_path) as terminal:
        from pipeline.definition.pipelines import create_retraining_pipeline
        from pipeline.run.execution import execute
        from pipeline.run.runner import RunInterruptedError

        try:
            _read_earlier_spans(settings, workspace, plan, options.runner, beam.args, terminal)
        except RunInterruptedError as interrupted:
            print(f"\n{interrupted}", file=terminal)
            return CommandResult(EXIT_INTERRUPTED, {**details, "error": str(interrupted)})
        except Exception as error:
            print(f"\nReading earlier spans failed: {error}\nSee {log_path}", file=terminal)
            return CommandResult(EXIT_FAILED, {**details, "error": f"reading earlier spans failed: {error}"})
        tfx_pipeline = create_retraining_pipeline(
            settings,
            workspace,
            beam.args,
            plan.newest.number,
            [span.number for span in plan.window],
            list(plan.excluded),
            drift_baseline_span=plan.drift_baseline,
            newest_is_feedback=plan.newest.feedback,
            enable_cache=options.enable_cache,
        )
        outcome = execute(tfx_pipeline, settings, workspace, options.runner, terminal, log_path)
        details.update(outcome.as_json())
        if outcome.exit_code == EXIT_INTERRUPTED:
            return CommandResult(outcome.exit_code, details)
        _record(settings, workspace, plan.newest, outcome, details, terminal, log_path)
        if outcome.record is not None:
            remember_trigger(workspace, outcome.record.run_id, trigger)
            details["trigger"] = trigger
        print(f"Finished in {time.monotonic() - started:.1f}s", file=terminal)
    details["served_version"] = served_version(workspace.serving_root, settings.model_name)
    return CommandResult(outcome.exit_code, details)


def _what_refused(settings: Settings, outcome) -> dict:
    summary = outcome.summary
    anomalies = (summary.anomalies or []) if summary else []
    drifted = [m["feature"] for m in summary.drifted] if summary else []
    return rejection_checks(settings, anomalies, drifted)


def _record(
    settings: Settings, workspace: Workspace, newest: Span, outcome, details, terminal, log_path
) -> None:
    """What a finished retrain leaves for the next one and for people: span marks, its record, a report."""
    from pipeline.reporting.html_report import write_report

    run_id = outcome.record.run_id if outcome.record else ""
    if outcome.exit_code == EXIT_DATA_REJECTED:
        mark_rejected(newest, run_id, outcome.rejection or "", _what_refused(settings, outcome))
        print(f"Span {newest.number} is marked rejected and left out of later windows.", file=terminal)
        if outcome.summary and outcome.summary.drifted:
            print(
                "If the drift is real and expected, `penguins retrain --accept-drift` trains on the span "
                "anyway (schema anomalies still block; fix the data or the schema for those).",
                file=terminal,
            )
    elif outcome.exit_code == EXIT_OK:
        clear_rejection(newest)
        mark_trained_on(workspace, newest)
    if outcome.exit_code != EXIT_FAILED:
        _remember_retrain(workspace, newest.number, run_id, outcome.exit_code)
    if outcome.record is not None:
        try:
            report = write_report(settings, workspace, outcome.record, outcome.summary, outcome.rejection)
            details["report"] = str(report)
            print(f"Report:    {report}", file=terminal)
        except Exception:  # the report explains a run; it must not turn a pushed model into a failure
            logging.exception("Writing the run report failed")
            print(f"Report:    not written, see {log_path}", file=terminal)
