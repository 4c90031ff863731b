"""`penguins retrain`: retrain on the newest spans, one retrain per workspace at a time."""

from __future__ import annotations

import argparse
import dataclasses

from pipeline.cli.help import add_command
from pipeline.cli.options import (
    add_config_option,
    add_runner_options,
    add_since_option,
    add_workspace_option,
    run_options,
)
from pipeline.cli.outcome import add_json_option
from pipeline.config.settings import Settings, load_settings
from pipeline.config.workspace import Workspace
from pipeline.retraining.retrain import retrain
from pipeline.run.exit_codes import CommandResult
from pipeline.run.lock import run_lock


def add_retrain_parser(commands) -> None:
    parser = add_command(
        commands,
        "retrain",
        "retrain on the newest spans: validate, check drift, train, evaluate, push if better",
        "monitoring",
    )
    add_config_option(parser)
    add_workspace_option(parser, "spans and outputs")
    add_runner_options(parser)
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--when-new-data",
        action="store_true",
        help="do nothing unless a span arrived since the last retrain",
    )
    when.add_argument(
        "--when-quality-dips",
        action="store_true",
        help="run `penguins monitor` first; retrain only on a quality dip, on the labeled logged requests "
        "as a new span",
    )
    add_since_option(parser, "with --when-quality-dips: ")
    # Set by `penguins schedule`, so that history can tell its retrains from a person's.
    parser.add_argument("--triggered-by", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--accept-drift",
        action="store_true",
        help="report drift without blocking, for this run (e.g. after reviewing a rejected span)",
    )
    parser.add_argument("--no-cache", action="store_true", help="run every component even if unchanged")
    add_json_option(parser)
    parser.set_defaults(handler=command_retrain)


def _settings_for_run(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    settings.require_schema()
    if args.accept_drift:
        settings = dataclasses.replace(
            settings, retraining=settings.retraining.model_copy(update={"drift_action": "report"})
        )
    return settings


def command_retrain(args: argparse.Namespace) -> CommandResult:
    settings = _settings_for_run(args)
    workspace = Workspace(args.workspace.resolve())
    with run_lock(workspace.root, settings.metadata_location(workspace), settings.name, "retrain"):
        workspace.create()
        if args.when_quality_dips:
            from pipeline.retraining.quality import QUALITY_DIP_TRIGGER, retrain_when_quality_dips

            trigger = ", ".join(filter(None, (args.triggered_by, QUALITY_DIP_TRIGGER)))
            return retrain_when_quality_dips(settings, workspace, run_options(args), args.since, trigger)
        trigger = ", ".join(filter(None, (args.triggered_by, "new data" if args.when_new_data else None)))
        return retrain(
            settings,
            workspace,
            run_options(args),
            when_new_data=args.when_new_data,
            trigger=trigger or "command",
        )
