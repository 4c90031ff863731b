"""`penguins run`: the whole pipeline, validate to push, on the configured data."""

from __future__ import annotations

import argparse

from pipeline.cli.help import add_command
from pipeline.cli.options import add_runner_options, add_source_options, run_options
from pipeline.cli.outcome import add_json_option
from pipeline.config.settings import load_settings
from pipeline.config.workspace import Workspace
from pipeline.run.exit_codes import CommandResult
from pipeline.run.lock import run_lock


def add_run_parser(commands) -> None:
    run = add_command(
        commands, "run", "run the whole pipeline: validate, transform, train, evaluate, push", "running"
    )
    add_source_options(run)
    add_runner_options(run)
    run.add_argument(
        "--rerun", action="store_true", help="run through TFX even when nothing changed since the last run"
    )
    run.add_argument(
        "--no-cache", action="store_true", help="run every component even if its inputs are unchanged"
    )
    add_json_option(run)
    run.set_defaults(handler=command_run)


def command_run(args: argparse.Namespace) -> CommandResult:
    from pipeline.run.local_run import run_once

    settings = load_settings(args.config)
    settings.require_schema()
    workspace = Workspace(args.workspace.resolve())
    with run_lock(workspace.root, settings.metadata_location(workspace), settings.name, "run"):
        workspace.create()
        return run_once(settings, workspace, args.data, run_options(args), rerun=args.rerun)
