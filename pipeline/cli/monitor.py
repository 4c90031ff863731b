"""`penguins labels add` and `penguins monitor`: late labels in, live quality out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.cli.options import add_config_option, add_since_option, add_workspace_option
from pipeline.cli.outcome import add_json_option
from pipeline.config.settings import load_settings
from pipeline.config.workspace import Workspace, existing_workspace
from pipeline.run.exit_codes import EXIT_OK, EXIT_USAGE, CommandResult


def _add_common_options(parser: argparse.ArgumentParser, handler) -> None:
    """The config, the workspace (its request log, labels and runs) and --json, for both commands."""
    add_config_option(parser)
    add_workspace_option(parser, "the request log, labels and runs")
    add_json_option(parser)
    parser.set_defaults(handler=handler)


def add_monitor_parsers(commands) -> None:
    labels = commands.add_parser("labels", help="late labels: the true class of logged requests")
    label_commands = labels.add_subparsers(dest="labels_command", required=True)
    add = label_commands.add_parser(
        "add", help="add the true classes of logged requests, from a CSV of request_id and the label"
    )
    add.add_argument(
        "--source",
        type=Path,
        required=True,
        help="a CSV file with the columns request_id and the config's label (and optionally instance, "
        "for a request of several instances; 0 when left out)",
    )
    _add_common_options(add, command_labels_add)

    monitor = commands.add_parser(
        "monitor", help="live accuracy on late labels, serving skew, class mix, and whether quality dipped"
    )
    add_since_option(monitor)
    _add_common_options(monitor, command_monitor)


def command_labels_add(args: argparse.Namespace) -> CommandResult:
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve())
    if not args.source.is_file():
        print(
            f"{args.source}: no such file; expected a CSV of request_id and {settings.features.label}",
            file=sys.stderr,
        )
        return CommandResult(EXIT_USAGE, {"error": f"{args.source}: no such file"})
    label = settings.features.label
    with captured_output(workspace.log_dir / "labels.log"):
        from pipeline.monitoring.labels import add_labels, schema_classes
        from pipeline.monitoring.logged import logged_keys

        outcome = add_labels(
            args.source,
            workspace.labels_dir,
            label,
            schema_classes(settings.require_schema(), label),
            logged_keys(workspace.request_log_dir),
        )
    print(f"Added {outcome['added']} label(s) from {args.source}.")
    if outcome["unknown"]:
        more = ", ..." if outcome["unknown"] > len(outcome["unknown_ids"]) else ""
        print(
            f"  {outcome['unknown']} of them name requests not in the request log "
            f"({', '.join(outcome['unknown_ids'])}{more}); they are kept, and count once those are logged."
        )
    return CommandResult(EXIT_OK, outcome)


def _print_outcome(outcome: dict) -> None:
    print(
        f"{outcome['requests']} requests of {outcome['instances']} instances, {outcome['labeled']} instances "
        "labeled; "
        f"served version {outcome['served_version']}"
    )
    for entry in outcome["versions"]:
        live = "n/a" if entry["live_accuracy"] is None else f"{entry['live_accuracy']:.3f}"
        interval = f" (95% {entry['ci95'][0]:.3f} to {entry['ci95'][1]:.3f})" if entry["ci95"] else ""
        blessed = "n/a" if entry["blessed_accuracy"] is None else f"{entry['blessed_accuracy']:.3f}"
        print(
            f"  version {entry['version']}: live accuracy {live}{interval} n={entry['n']}, blessed {blessed}"
        )
    over = [m for m in outcome["skew"] if m["over"]]
    if over:
        print(
            "  skew: "
            + ", ".join(f"{m['feature']} {m['measure']} {m['value']} > {m['threshold']}" for m in over)
        )
    print(f"Decision: {outcome['decision']}: {outcome['reason']}")
    print(f"Report:   {outcome['report']}")


def command_monitor(args: argparse.Namespace) -> CommandResult:
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = existing_workspace(args.workspace.resolve())
    with captured_output(workspace.log_dir / "monitor.log"):
        from pipeline.monitoring.monitor import monitor

        outcome = monitor(settings, workspace, args.since)
    sys.stdout.flush()
    _print_outcome(outcome)
    return CommandResult(EXIT_OK, outcome)
