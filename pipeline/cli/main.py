"""The `penguins` command line.

Heavy imports (TensorFlow, TFX) happen inside the commands and inside the captured-output block,
so `penguins --help` is instant and TensorFlow's start-up noise lands in the log file.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

from pipeline.cli.options import add_config_option, add_runner_options, add_workspace_option
from pipeline.cli.outcome import CommandResult, add_json_option, json_stream, write_outcome
from pipeline.cli.serving import add_predict_parser, add_serve_parser
from pipeline.cli.versions import add_version_parsers
from pipeline.config.settings import ConfigError, load_settings
from pipeline.intake.raw_csv import DataError, NoDataError
from pipeline.intake.synth import add_synth_parser
from pipeline.retraining.retrain import add_retrain_parser
from pipeline.retraining.schedule import add_schedule_parser
from pipeline.run.beam_options import csv_rows, resolve_beam_args
from pipeline.run.exit_codes import EXIT_BUSY, EXIT_DATA_REJECTED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from pipeline.run.lock import WorkspaceBusyError, current_holder, workspace_lock
from serving.compat import running_stack


def _common_data_options(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument(
        "--data", help="a raw CSV file or a folder of them, instead of the config's data source"
    )
    add_workspace_option(parser)


def _config_from_argv(argv: list[str] | None) -> Path | None:
    """The --config value, read ahead so that `predict` can offer one flag per configured feature."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path)
    return pre.parse_known_args(argv)[0].config


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="penguins", description=__doc__.splitlines()[0])
    parser.set_defaults(json_outcome=False)
    commands = parser.add_subparsers(dest="command", required=True)
    settings = load_settings(_config_from_argv(argv))

    run = commands.add_parser(
        "run", help="run the whole pipeline: validate, transform, train, evaluate, push"
    )
    _common_data_options(run)
    add_runner_options(run)
    run.add_argument(
        "--rerun", action="store_true", help="run through TFX even when nothing changed since the last run"
    )
    run.add_argument(
        "--no-cache", action="store_true", help="run every component even if its inputs are unchanged"
    )
    add_json_option(run)
    run.set_defaults(handler=command_run)

    schema = commands.add_parser("schema", help="schema tools")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    infer = schema_commands.add_parser(
        "infer", help="infer a schema from data, for review against the curated one"
    )
    _common_data_options(infer)
    infer.add_argument(
        "--out", type=Path, help="where to write it (default: WORKSPACE/schema/inferred.pbtxt)"
    )
    infer.set_defaults(handler=command_schema_infer)

    ingest = commands.add_parser(
        "ingest", help="clean a raw CSV and add it to the workspace as the next span"
    )
    source = ingest.add_mutually_exclusive_group(required=True)
    source.add_argument("--source", type=Path, help="a raw CSV file, or a folder of them")
    source.add_argument("--bundled", action="store_true", help="the bundled penguins data")
    ingest.add_argument("--year", type=int, help="only this year's rows (replays data arriving year by year)")
    add_config_option(ingest)
    add_workspace_option(ingest, "spans")
    add_json_option(ingest)
    ingest.set_defaults(handler=command_ingest)

    history = commands.add_parser("history", help="the pipeline's runs from the metadata store, newest first")
    add_config_option(history)
    add_workspace_option(history)
    history.add_argument("--json", action="store_true", help="print JSON instead of text")
    history.add_argument("--limit", type=int, default=20, help="at most this many runs")
    history.set_defaults(handler=command_history)

    add_version_parsers(commands)
    add_retrain_parser(commands)
    add_schedule_parser(commands)
    add_serve_parser(commands, settings)
    add_predict_parser(commands, settings)
    add_synth_parser(commands, settings)
    return parser


def _clean_data(args, settings, workspace):
    from pipeline.intake.sources import cleaning_spec, prepare_clean_data, raw_files

    source = args.data or settings.data_source
    return prepare_clean_data(raw_files(source), workspace.clean_data, cleaning_spec(settings))


def command_run(args) -> CommandResult:
    with workspace_lock(args.workspace.resolve(), "run"):
        return _run(args)


def _run(args) -> CommandResult:
    from pipeline.config.workspace import Workspace
    from pipeline.run.abandoned import settle_abandoned_runs
    from pipeline.run.console import captured_output
    from pipeline.run.freshness import remember_run, run_key, unchanged_run, up_to_date_lines
    from serving.store.model_config import served_version

    started = time.monotonic()
    settings = load_settings(args.config)
    settings.require_schema()
    workspace = Workspace(args.workspace.resolve()).create()
    log_path = workspace.log_dir / f"run-{datetime.datetime.now():%Y%m%d-%H%M%S}.log"
    print(f"Pipeline '{settings.name}', {args.runner} runner, {running_stack()}.", flush=True)
    settle_abandoned_runs(workspace, settings.name)
    try:
        clean_dir = _clean_data(args, settings, workspace)
    except DataError as error:
        message = f"Data rejected, nothing trained or pushed. {error}"
        print(message, file=sys.stderr)
        return CommandResult(EXIT_DATA_REJECTED, {"error": message})
    print(f"  {'Cleaning':<32} {'done':<8} {time.monotonic() - started:6.1f}s", flush=True)
    beam = resolve_beam_args(args, csv_rows(clean_dir.glob("*.csv")))
    print(f"  Beam preset: {beam.preset} ({beam.reason})", flush=True)

    key = run_key(settings, clean_dir, args.runner, beam.args)
    served = served_version(workspace.serving_root, settings.model_name)
    previous = None if args.rerun or args.no_cache else unchanged_run(workspace, key, served)
    if previous:
        print("\n" + "\n".join(up_to_date_lines(previous)))
        return CommandResult(
            EXIT_OK, {"up_to_date": True, "run": previous["entry"], "served_version": served}
        )

    print(f"  Full log: {log_path}", flush=True)
    with captured_output(log_path) as terminal:
        from pipeline.definition.pipelines import create_pipeline
        from pipeline.run.execution import execute

        tfx_pipeline = create_pipeline(
            settings, clean_dir, workspace, beam.args, enable_cache=not args.no_cache
        )
        outcome = execute(tfx_pipeline, settings, workspace, args.runner, terminal, log_path)
        served = served_version(workspace.serving_root, settings.model_name)
        if outcome.exit_code == EXIT_OK:
            remember_run(workspace, key, outcome.entry, served)
            print(f"Finished in {time.monotonic() - started:.1f}s", file=terminal)
    return CommandResult(
        outcome.exit_code,
        {"up_to_date": False, **outcome.as_json(), "served_version": served, "log": str(log_path)},
    )


def command_ingest(args) -> CommandResult:
    import tempfile

    from pipeline.config.workspace import Workspace
    from pipeline.intake.sources import bundled_penguins_csv, cleaning_spec, raw_files
    from pipeline.intake.spans import ingest, write_year_subset

    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve()).create()
    files = [bundled_penguins_csv()] if args.bundled else raw_files(args.source)
    label = "bundled penguins data" if args.bundled else str(args.source)
    with tempfile.TemporaryDirectory() as scratch:
        if args.year is not None:
            if len(files) != 1:
                raise DataError(f"{args.source}: --year needs a single CSV file, found {len(files)}")
            files = [write_year_subset(files[0], args.year, Path(scratch) / f"{args.year}.csv")]
            label += f", year {args.year}"
        span = ingest(files, label, workspace.spans, cleaning_spec(settings))
    print(f"Ingested {label} as span {span.number}: {span.rows} rows in {span.path}")
    return CommandResult(
        EXIT_OK, {"span": span.number, "rows": span.rows, "path": str(span.path), "source": label}
    )


def command_history(args) -> int:
    import json

    from pipeline.config.workspace import Workspace
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve())
    if not workspace.metadata_path.is_file():
        print(f"No runs yet: {workspace.metadata_path} does not exist.", file=sys.stderr)
        return EXIT_OK
    with captured_output(workspace.log_dir / "history.log") as terminal:
        from pipeline.reporting.history import history_entry
        from pipeline.reporting.history_text import format_history
        from pipeline.reporting.metadata import open_store, pipeline_runs

        records = pipeline_runs(open_store(workspace.metadata_path), settings.name)[: args.limit]
        # The lock names the process of a run going on now: the newest run with a RUNNING component.
        holder = current_holder(workspace.root)
        running = holder is not None and holder["command"] in ("run", "retrain")
        live_run = (
            next((r.run_id for r in records if "RUNNING" in r.states.values()), None) if running else None
        )
        entries = [history_entry(record, alive=record.run_id == live_run) for record in records]
        output = json.dumps(entries, indent=2) if args.json else "\n".join(format_history(entries))
        print(output or "No runs yet.", file=terminal)
    return EXIT_OK


def command_schema_infer(args) -> int:
    from pipeline.config.workspace import Workspace
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve()).create()
    clean_dir = _clean_data(args, settings, workspace)
    out = args.out or workspace.root / "schema" / "inferred.pbtxt"
    with captured_output(workspace.log_dir / "schema-infer.log"):
        from pipeline.intake.schema_inference import (
            infer_schema,  # imports TensorFlow, whose warnings go to the log
        )

        infer_schema(clean_dir, settings.features.label, out)
    print(
        f"Inferred schema written to {out}\nReview it against {settings.schema_path} before adopting changes."
    )
    return EXIT_OK


def _run_handler(args) -> CommandResult:
    """The handler's result; an error it raises becomes its exit code, with the message on stderr."""
    try:
        result = args.handler(args)
        return result if isinstance(result, CommandResult) else CommandResult(result)
    except ConfigError as error:
        return _failure(EXIT_USAGE, f"Config error: {error}")
    except NoDataError as error:
        return _failure(EXIT_USAGE, f"No data: {error}")
    except DataError as error:
        return _failure(EXIT_DATA_REJECTED, f"Data rejected: {error}")
    except WorkspaceBusyError as error:
        return _failure(EXIT_BUSY, f"Refused: {error}")
    except KeyboardInterrupt:
        return _failure(EXIT_INTERRUPTED, "Interrupted; the served model is unchanged.")


def _failure(exit_code: int, message: str) -> CommandResult:
    print(message, file=sys.stderr)
    return CommandResult(exit_code, {"error": message})


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            args = build_parser(argv).parse_args(argv)
        except ConfigError as error:  # a bad --config is read while the parser is built
            result = _failure(EXIT_USAGE, f"Config error: {error}")
            if "--json" in (sys.argv[1:] if argv is None else argv):
                write_outcome(sys.stdout, None, result)
            return result.exit_code
        outcome_stream = json_stream() if getattr(args, "json", False) and args.json_outcome else None
        result = _run_handler(args)
        if outcome_stream is not None:
            with outcome_stream:
                write_outcome(outcome_stream, args.command, result)
        return result.exit_code
    except BrokenPipeError:
        # The reader went away (`penguins history | head`); nothing left to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
