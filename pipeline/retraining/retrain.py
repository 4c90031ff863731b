"""`penguins retrain`: the unattended job that turns newly arrived spans into a better served model.

The newest span is validated against the schema and compared with the previous span for drift;
the model is trained on a rolling window of the newest spans, evaluated against the served
model, and pushed only when blessed. A span the checks reject is marked as such, kept for a
person to look at, and left out of later windows. Every run writes an HTML report.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import sys
import time

from pipeline.cli.options import add_config_option, add_runner_options, add_workspace_option
from pipeline.cli.outcome import CommandResult, add_json_option
from pipeline.config.settings import Settings, load_settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.intake.spans import clear_rejection, list_spans, mark_rejected, rejected_spans
from pipeline.run.abandoned import settle_abandoned_runs
from pipeline.run.beam_options import resolve_beam_args
from pipeline.run.exit_codes import EXIT_DATA_REJECTED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from pipeline.run.lock import workspace_lock
from serving.store.atomic import write_json_atomically
from serving.store.model_config import served_version

LAST_RETRAIN_FILE = "last_retrain.json"


def add_retrain_parser(commands) -> None:
    retrain = commands.add_parser(
        "retrain",
        help="retrain on the newest spans: validate, check drift, train, evaluate, push only if better",
    )
    add_config_option(retrain)
    add_workspace_option(retrain, "spans and outputs")
    add_runner_options(retrain)
    retrain.add_argument(
        "--when-new-data",
        action="store_true",
        help="do nothing unless a span arrived since the last retrain",
    )
    retrain.add_argument(
        "--accept-drift",
        action="store_true",
        help="report drift without blocking, for this run (e.g. after reviewing a rejected span)",
    )
    retrain.add_argument("--no-cache", action="store_true", help="run every component even if unchanged")
    add_json_option(retrain)
    retrain.set_defaults(handler=command_retrain)


def last_retrain(workspace: Workspace) -> dict | None:
    path = workspace.root / LAST_RETRAIN_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _remember_retrain(workspace: Workspace, span: int, run_id: str, exit_code: int) -> None:
    write_json_atomically(
        workspace.root / LAST_RETRAIN_FILE, {"span": span, "run_id": run_id, "exit_code": exit_code}
    )


def _settings_for_run(args) -> Settings:
    settings = load_settings(args.config)
    settings.require_schema()
    if args.accept_drift:
        settings = dataclasses.replace(
            settings, retraining=settings.retraining.model_copy(update={"drift_action": "report"})
        )
    return settings


def _read_missing_spans(
    settings: Settings, workspace: Workspace, wanted: list[int], runner: str, beam_args: list[str], terminal
) -> None:
    """Runs ExampleGen on spans that arrived between retrains: a window is built from ExampleGen's outputs."""
    from pipeline.definition.pipelines import create_span_reading_pipeline
    from pipeline.reporting.metadata import open_store, processed_spans
    from pipeline.run.runner import run_pipeline

    done = set()
    if workspace.metadata_path.is_file():
        done = processed_spans(open_store(workspace.metadata_path), settings.name, node_ids.SPAN_EXAMPLE_GEN)
    for span in sorted(set(wanted) - done):
        print(f"  Reading span {span}, which arrived since the last retrain", file=terminal)
        tfx_pipeline = create_span_reading_pipeline(settings, workspace, span, beam_args)
        run_pipeline(tfx_pipeline, runner, lambda line: print(line, file=terminal))


def command_retrain(args: argparse.Namespace) -> CommandResult:
    with workspace_lock(args.workspace.resolve(), "retrain"):
        return _retrain(args)


def _refuse(exit_code: int, message: str) -> CommandResult:
    print(message, file=sys.stderr)
    return CommandResult(exit_code, {"error": message})


def _retrain(args: argparse.Namespace) -> CommandResult:
    started = time.monotonic()
    settings = _settings_for_run(args)
    workspace = Workspace(args.workspace.resolve()).create()
    spans = list_spans(workspace.spans)
    if not spans:
        return _refuse(
            EXIT_USAGE,
            f"No data to retrain on: {workspace.spans} holds no spans. Add one with "
            "`penguins ingest --source FILE.csv` (or `penguins ingest --bundled --year 2007`).",
        )
    newest = spans[-1]
    previous = last_retrain(workspace)
    if args.when_new_data and previous and previous["span"] >= newest.number:
        print(
            f"No new data: span {newest.number} is the newest, and retrain run {previous['run_id']} "
            "already handled it. Nothing to do."
        )
        return CommandResult(EXIT_OK, {"no_new_data": True, "newest_span": newest.number})

    excluded = sorted(number for number in rejected_spans(workspace.spans) if number != newest.number)
    window = [span for span in spans if span.number not in excluded][-settings.retraining.window_spans :]
    beam = resolve_beam_args(args, sum(span.rows for span in window))
    log_path = workspace.log_dir / f"retrain-{datetime.datetime.now():%Y%m%d-%H%M%S}.log"
    print(
        f"Retraining '{settings.name}' on the newest {settings.retraining.window_spans} spans up to span "
        f"{newest.number} ({newest.rows} rows from {newest.source}), {args.runner} runner.",
        flush=True,
    )
    if excluded:
        print(f"  Leaving out spans rejected earlier: {', '.join(map(str, excluded))}")
    print(f"  Beam preset: {beam.preset} ({beam.reason})", flush=True)
    settle_abandoned_runs(workspace, settings.name)
    print(f"  Full log: {log_path}", flush=True)
    details = {"no_new_data": False, "newest_span": newest.number, "log": str(log_path)}

    from pipeline.run.console import captured_output

    with captured_output(log_path) as terminal:
        from pipeline.definition.pipelines import create_retraining_pipeline
        from pipeline.reporting.html_report import write_report
        from pipeline.run.execution import execute
        from pipeline.run.runner import RunInterruptedError

        # The window's older spans, and at least the previous span for the drift check.
        older = [span.number for span in spans[:-1] if span.number not in excluded]
        wanted = older[-max(settings.retraining.window_spans - 1, 1) :]
        try:
            _read_missing_spans(settings, workspace, wanted, args.runner, beam.args, terminal)
        except RunInterruptedError as interrupted:
            print(f"\n{interrupted}", file=terminal)
            return CommandResult(EXIT_INTERRUPTED, {**details, "error": str(interrupted)})
        except Exception as error:
            print(f"\nReading earlier spans failed: {error}\nSee {log_path}", file=terminal)
            return CommandResult(EXIT_FAILED, {**details, "error": f"reading earlier spans failed: {error}"})
        tfx_pipeline = create_retraining_pipeline(
            settings, workspace, beam.args, newest.number, excluded, enable_cache=not args.no_cache
        )
        outcome = execute(tfx_pipeline, settings, workspace, args.runner, terminal, log_path)
        details.update(outcome.as_json())
        if outcome.exit_code == EXIT_INTERRUPTED:
            return CommandResult(outcome.exit_code, details)
        run_id = outcome.record.run_id if outcome.record else ""
        if outcome.exit_code == EXIT_DATA_REJECTED:
            mark_rejected(newest, run_id, outcome.rejection or "")
            print(f"Span {newest.number} is marked rejected and left out of later windows.", file=terminal)
            if outcome.summary and outcome.summary.drifted:
                print(
                    "If the drift is real and expected, `penguins retrain --accept-drift` trains on the span "
                    "anyway (schema anomalies still block; fix the data or the schema for those).",
                    file=terminal,
                )
        elif outcome.exit_code == EXIT_OK:
            clear_rejection(newest)
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
        print(f"Finished in {time.monotonic() - started:.1f}s", file=terminal)
    details["served_version"] = served_version(workspace.serving_root, settings.model_name)
    return CommandResult(outcome.exit_code, details)
