"""`penguins versions` and `penguins rollback`: what is pushed, and serving an earlier version again."""

from __future__ import annotations

import dataclasses
import sys

from pipeline.cli.help import add_command
from pipeline.cli.options import add_config_option, add_workspace_option
from pipeline.cli.outcome import CommandResult, add_json_option
from pipeline.config.settings import Settings, load_settings
from pipeline.config.workspace import Workspace, existing_workspace
from pipeline.run.exit_codes import EXIT_OK, EXIT_USAGE
from pipeline.run.lock import run_lock


def add_version_parsers(commands) -> None:
    versions = add_command(
        commands,
        "versions",
        "the pushed versions: run, accuracy, labels, and served, rolled back or broken",
        "serving",
    )
    add_config_option(versions)
    add_workspace_option(versions)
    add_json_option(versions)
    versions.set_defaults(handler=command_versions)

    rollback = add_command(commands, "rollback", "serve an earlier pushed version again", "serving")
    rollback.add_argument(
        "--to", type=int, help="the version to serve (default: the newest earlier one that can be served)"
    )
    add_config_option(rollback)
    add_workspace_option(rollback)
    add_json_option(rollback)
    rollback.set_defaults(handler=command_rollback)


def command_versions(args) -> CommandResult:
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = existing_workspace(args.workspace.resolve())
    with captured_output(workspace.log_dir / "versions.log") as terminal:
        from pipeline.reporting.metadata import recorded_runs
        from pipeline.reporting.versions import format_versions, version_entries
        from serving.store.model_config import read_labels, served_version

        records = recorded_runs(settings, workspace)
        entries = version_entries(workspace.serving_root, settings.model_name, records)
        if not args.json:
            model_dir = workspace.model_dir(settings.model_name)
            print(
                "\n".join(format_versions(entries)) if entries else f"No versions in {model_dir} yet.",
                file=terminal,
            )
        outcome = {
            "model_name": settings.model_name,
            "served_version": served_version(workspace.serving_root, settings.model_name),
            "labels": read_labels(workspace.serving_root, settings.model_name),
            "versions": [dataclasses.asdict(entry) for entry in entries],
        }
    return CommandResult(EXIT_OK, outcome)


def command_rollback(args) -> CommandResult:
    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve())
    with run_lock(workspace.root, settings.metadata_location(workspace), settings.name, "rollback"):
        return _rollback(settings, workspace, args.to)


def _rollback(settings: Settings, workspace: Workspace, to: int | None) -> CommandResult:
    from pipeline.run.console import captured_output

    refusal = None
    with captured_output(workspace.log_dir / "rollback.log"):
        from serving.store.rollback import VersionError, rollback

        try:
            done = rollback(workspace.serving_root, settings.model_name, to)
        except VersionError as error:
            refusal = str(error)
    if refusal:
        print(f"Rollback refused: {refusal}", file=sys.stderr)
        return CommandResult(EXIT_USAGE, {"error": refusal})
    for version, reason in done.passed_over.items():
        print(f"Passed over version {version}: {reason}.")
    stable = done.labels.get("stable")
    print(
        f"Rolled back: version {done.version}, a copy of version {done.restored}, is now served "
        f"(label canary; stable is version {stable}).\n"
        f"The model of version {done.replaced} is marked rolled back: it carries no label, a later "
        "rollback passes over it, and the pipeline will not push it again."
    )
    return CommandResult(EXIT_OK, dataclasses.asdict(done))
