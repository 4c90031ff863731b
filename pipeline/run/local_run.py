"""`penguins run`: one run of the whole pipeline on the configured data, or a second's answer that
nothing changed.

Cleaning, the Beam preset, the up-to-date check, the TFX run and the record the next run compares
with happen here, in that order; the command only parses and prints the outcome.
"""

from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition.split_check import require_every_split
from pipeline.intake.raw_csv import DataError
from pipeline.intake.sources import prepare_clean_data, raw_files
from pipeline.run.abandoned import settle_abandoned_runs
from pipeline.run.beam_options import csv_rows
from pipeline.run.endpoints import require_reachable
from pipeline.run.exit_codes import EXIT_DATA_REJECTED, EXIT_OK, CommandResult
from pipeline.run.freshness import remember_run, run_key, unchanged_run, up_to_date_lines
from pipeline.run.run_options import RunOptions
from serving.compat import running_stack
from serving.store.model_config import served_version


def clean_source(settings: Settings, workspace: Workspace, data: str | None) -> Path:
    """The cleaned copy of `data` (default: the config's source), as ExampleGen reads it."""
    return prepare_clean_data(
        raw_files(data or settings.data_source), workspace.clean_data, settings.features
    )


def run_once(
    settings: Settings,
    workspace: Workspace,
    data: str | None,
    options: RunOptions,
    *,
    rerun: bool = False,
) -> CommandResult:
    """Runs the pipeline unless data, config, code and served model are as the last run left them."""
    started = time.monotonic()
    log_path = workspace.log_dir / f"run-{datetime.datetime.now():%Y%m%d-%H%M%S}.log"
    print(f"Pipeline '{settings.name}', {options.runner} runner, {running_stack()}.", flush=True)
    settle_abandoned_runs(settings, workspace)
    try:
        clean_dir = clean_source(settings, workspace, data)
    except DataError as error:
        return _rejected(error, sys.stderr)
    print(f"  {'Cleaning':<32} {'done':<8} {time.monotonic() - started:6.1f}s", flush=True)
    beam = options.beam(csv_rows(clean_dir.glob("*.csv")))
    print(f"  Beam preset: {beam.preset} ({beam.reason})", flush=True)

    key = run_key(settings, workspace, clean_dir, options.runner, beam.args)
    served = served_version(workspace.serving_root, settings.model_name)
    previous = None if rerun or not options.enable_cache else unchanged_run(settings, workspace, key, served)
    if previous:
        print("\n" + "\n".join(up_to_date_lines(previous)))
        return CommandResult(
            EXIT_OK, {"up_to_date": True, "run": previous["entry"], "served_version": served}
        )

    require_reachable(beam.args)
    print(f"  Full log: {log_path}", flush=True)
    source = str(data or settings.data_source)
    return _execute(settings, workspace, clean_dir, source, options, beam.args, key, log_path, started)


def _rejected(error: DataError, stream) -> CommandResult:
    message = f"Data rejected, nothing trained or pushed. {error}"
    print(message, file=stream)
    return CommandResult(EXIT_DATA_REJECTED, {"error": message})


def _execute(
    settings, workspace, clean_dir, source, options, beam_args, key, log_path, started
) -> CommandResult:
    """The TFX run itself, and the record the next `penguins run` compares with."""
    from pipeline.run.console import captured_output

    with captured_output(log_path) as terminal:
        from pipeline.definition.pipelines import create_pipeline
        from pipeline.run.execution import execute

        try:
            require_every_split(settings, sorted(clean_dir.glob("*.csv")), source)
        except DataError as error:
            return _rejected(error, terminal)
        tfx_pipeline = create_pipeline(
            settings, clean_dir, workspace, beam_args, enable_cache=options.enable_cache
        )
        outcome = execute(tfx_pipeline, settings, workspace, options.runner, terminal, log_path)
        served = served_version(workspace.serving_root, settings.model_name)
        if outcome.exit_code == EXIT_OK:
            remember_run(workspace, key, outcome.entry, served)
            print(f"Finished in {time.monotonic() - started:.1f}s", file=terminal)
    return CommandResult(
        outcome.exit_code,
        {"up_to_date": False, **outcome.as_json(), "served_version": served, "log": str(log_path)},
    )
