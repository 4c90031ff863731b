"""`penguins history`: the pipeline's runs from the metadata store, newest first."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.cli.help import add_command
from pipeline.cli.options import add_config_option, add_workspace_option
from pipeline.config.settings import load_settings
from pipeline.config.workspace import existing_workspace
from pipeline.metadata.store import store_exists
from pipeline.run.exit_codes import EXIT_OK
from pipeline.run.lock import running_holder


def add_history_parser(commands) -> None:
    history = add_command(
        commands, "history", "the pipeline's runs from the metadata store, newest first", "monitoring"
    )
    add_config_option(history)
    add_workspace_option(history)
    history.add_argument("--json", action="store_true", help="print the runs as one JSON list, on one line")
    history.add_argument("--limit", type=int, default=20, help="at most this many runs")
    history.set_defaults(handler=command_history)


def command_history(args: argparse.Namespace) -> int:
    from pipeline.monitoring.history import monitoring_history
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = existing_workspace(args.workspace.resolve())
    monitor_runs = monitoring_history(workspace.monitoring_history)
    location = settings.metadata_location(workspace)
    recorded = store_exists(location)
    if not recorded and not monitor_runs:
        print(f"No runs yet: {location.describe()} holds none.", file=sys.stderr)
        return EXIT_OK
    with captured_output(workspace.log_dir / "history.log") as terminal:
        from pipeline.reporting.history import recorded_history
        from pipeline.reporting.history_text import format_history

        entries = monitor_runs
        if recorded:
            holder = running_holder(workspace.root, location, settings.name)
            in_progress = holder is not None and holder["command"] in ("run", "retrain")
            entries += recorded_history(settings, workspace, args.limit, in_progress)
        # Monitor runs and pipeline runs, newest first: both are stamped in local time.
        entries = sorted(entries, key=lambda entry: entry["started"], reverse=True)[: args.limit]
        output = json.dumps(entries) if args.json else "\n".join(format_history(entries))
        print(output or "No runs yet.", file=terminal)
    return EXIT_OK
