"""`penguins labels add` and `penguins monitor`: late labels in, live quality out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.cli.help import add_command
from pipeline.cli.options import add_config_option, add_since_option, add_workspace_option
from pipeline.cli.outcome import add_json_option, refused
from pipeline.config.settings import load_settings
from pipeline.config.workspace import Workspace, existing_workspace
from pipeline.run.exit_codes import EXIT_OK, EXIT_USAGE, CommandResult


def _add_common_options(parser: argparse.ArgumentParser, handler) -> None:
    """The config, the workspace (its request log, labels and runs) and --json."""
    add_config_option(parser)
    add_workspace_option(parser, "the request log, labels and runs")
    add_json_option(parser)
    parser.set_defaults(handler=handler)


def _add_batch_options(parser: argparse.ArgumentParser, handler) -> None:
    """The workspace and --json, for the commands that only look at the stored label batches."""
    add_workspace_option(parser, "the labels")
    add_json_option(parser)
    parser.set_defaults(handler=handler)


def add_monitor_parsers(commands) -> None:
    labels = add_command(commands, "labels", "late labels: the true class of logged requests", "monitoring")
    label_commands = labels.add_subparsers(dest="labels_command", required=True, metavar="COMMAND")
    add = add_command(label_commands, "add", "add true classes of logged requests, from a CSV", "monitoring")
    add.add_argument(
        "--source",
        type=Path,
        required=True,
        help="a CSV file with the columns request_id and the config's label (and optionally instance, "
        "for a request of several instances; 0 when left out)",
    )
    _add_common_options(add, command_labels_add)
    listing = add_command(
        label_commands, "list", "the label batches added: rows, when, file and source", "monitoring"
    )
    _add_batch_options(listing, command_labels_list)
    remove = add_command(
        label_commands, "remove", "remove one label batch whole, as `labels list` names it", "monitoring"
    )
    remove.add_argument("batch", metavar="BATCH", help="the batch, as `penguins labels list` shows it")
    _add_batch_options(remove, command_labels_remove)

    monitor = add_command(
        commands,
        "monitor",
        "live accuracy on late labels, serving skew, class mix, and whether quality dipped",
        "monitoring",
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
    from pipeline.monitoring.labels import REQUEST_ID, add_labels, read_labels, schema_classes

    label = settings.features.label
    classes = schema_classes(settings.require_schema(), label)
    labels = read_labels(args.source, label, classes, settings.monitoring.max_label_batch_rows)
    with captured_output(workspace.log_dir / "labels.log"):
        from pipeline.monitoring.logged import logged_keys

        logged = logged_keys(workspace.request_log_dir, labels[REQUEST_ID])
    outcome = add_labels(labels, args.source, workspace.labels_dir, logged)
    print(f"Added {outcome['added']} label(s) from {args.source} as batch {outcome['batch']}.")
    if outcome["unknown"]:
        more = ", ..." if outcome["unknown"] > len(outcome["unknown_ids"]) else ""
        print(
            f"  {outcome['unknown']} of them name requests not in the request log "
            f"({', '.join(outcome['unknown_ids'])}{more}); they are kept, and count once those are logged."
        )
    if outcome["unlogged_instances"]:
        shown = outcome["unlogged_instance_examples"]
        more = ", ..." if outcome["unlogged_instances"] > len(shown) else ""
        named = ", ".join(
            f"{e['request_id']} instance {e['instance']}, logged with {e['logged_instances']} instance(s)"
            for e in shown
        )
        print(
            f"  {outcome['unlogged_instances']} of them name an instance that its logged request does not "
            f"have ({named}{more}); instances count from 0. They are kept but match nothing: to correct "
            f"them, `penguins labels remove {outcome['batch']}` and add the file again."
        )
    return CommandResult(EXIT_OK, outcome)


def command_labels_list(args: argparse.Namespace) -> CommandResult:
    from pipeline.monitoring.labels import label_batches

    workspace = existing_workspace(args.workspace.resolve())
    batches = label_batches(workspace.labels_dir)
    if not batches:
        print(f"No label batches in {workspace.labels_dir}.")
    for entry in batches:
        source = entry["source"] or "(not recorded)"
        print(f"{entry['batch']}  {entry['rows']:>9,} label(s)  added {entry['added']}  from {source}")
    return CommandResult(EXIT_OK, {"batches": batches})


def command_labels_remove(args: argparse.Namespace) -> CommandResult:
    from pipeline.monitoring.labels import BatchError, remove_batch

    workspace = existing_workspace(args.workspace.resolve())
    try:
        entry = remove_batch(workspace.labels_dir, args.batch)
    except BatchError as error:
        return refused(str(error))
    source = entry["source"] or "(not recorded)"
    print(f"Removed label batch {entry['batch']}: {entry['rows']:,} label(s) from {source}.")
    return CommandResult(EXIT_OK, {"removed": entry})


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
    if outcome["reused_from"]:
        print(f"Nothing read has changed since the monitor run of {outcome['reused_from']}: its outcome.")
    print(f"Report:   {outcome['report']}")


def command_monitor(args: argparse.Namespace) -> CommandResult:
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = existing_workspace(args.workspace.resolve())
    from pipeline.monitoring.reuse import reused_outcome

    outcome = reused_outcome(settings, workspace, args.since)
    if outcome is None:
        with captured_output(workspace.log_dir / "monitor.log"):
            from pipeline.monitoring.monitor import monitor

            outcome = monitor(settings, workspace, args.since)
    sys.stdout.flush()
    _print_outcome(outcome)
    return CommandResult(EXIT_OK, outcome)
