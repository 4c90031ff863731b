"""`penguins metadata copy --to mysql://...`: moves a workspace's SQLite store to a shared server.

A workspace that outgrows one machine keeps its history, lineage and served-model baseline: the
copy carries every row over with its id (pipeline/metadata/copy.py), then PENGUINS_METADATA points
every command at the server.
"""

from __future__ import annotations

import argparse

from pipeline.cli.help import add_command
from pipeline.cli.options import add_config_option, add_workspace_option
from pipeline.cli.outcome import add_json_option
from pipeline.config.metadata_location import (
    EXPECTED_FORM,
    METADATA_VARIABLE,
    PASSWORD_FILE_VARIABLE,
    SqliteLocation,
    parse_mysql_url,
    password_file,
)
from pipeline.config.settings import load_settings
from pipeline.config.workspace import existing_workspace
from pipeline.run.exit_codes import EXIT_OK, CommandResult
from pipeline.run.lock import run_lock


def add_metadata_parser(commands) -> None:
    metadata = add_command(
        commands, "metadata", "the ML Metadata store: copy a workspace's to a server", "scaling"
    )
    actions = metadata.add_subparsers(dest="action", required=True, metavar="ACTION")
    copy = add_command(actions, "copy", "copy the SQLite store, ids and all, to a MySQL database", "scaling")
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help=f"the empty database, as {EXPECTED_FORM} (or the password in {PASSWORD_FILE_VARIABLE})",
    )
    add_config_option(copy)
    add_workspace_option(copy)
    add_json_option(copy)
    copy.set_defaults(handler=command_metadata_copy)


def command_metadata_copy(args: argparse.Namespace) -> CommandResult:
    from pipeline.metadata.copy import copy_store, require_source

    settings = load_settings(args.config)
    workspace = existing_workspace(args.workspace.resolve())
    target = parse_mysql_url(args.to, "--to", password_file())
    source = SqliteLocation(workspace.metadata_path)
    require_source(source)
    # No run may write the SQLite file (the workspace's lock) or start on the server (its run lock).
    with run_lock(workspace.root, target, settings.name, "metadata copy"):
        outcome = copy_store(source, target)
    for table, rows in outcome["tables"].items():
        print(f"  {table:<18} {rows:>8} rows")
    print(
        f"Copied {outcome['rows']} rows in {len(outcome['tables'])} tables from {outcome['source']} to "
        f"{outcome['target']} in {outcome['seconds']}s."
    )
    print(
        f"Next: export {METADATA_VARIABLE}={outcome['target']} (with the password in the URL or in "
        f"{PASSWORD_FILE_VARIABLE}), so that every command uses the copy."
    )
    return CommandResult(EXIT_OK, outcome)
