"""`penguins ingest` and `penguins schema infer`: data into the workspace, and a schema to review."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.cli.options import add_config_option, add_source_options, add_workspace_option
from pipeline.cli.outcome import add_json_option
from pipeline.config.settings import load_settings
from pipeline.config.workspace import Workspace
from pipeline.run.exit_codes import EXIT_OK, CommandResult


def add_data_parsers(commands) -> None:
    schema = commands.add_parser("schema", help="schema tools")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True)
    infer = schema_commands.add_parser(
        "infer", help="infer a schema from data, for review against the curated one"
    )
    add_source_options(infer)
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


def command_ingest(args: argparse.Namespace) -> CommandResult:
    from pipeline.intake.spans import ingest_source

    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve()).create()
    span, label = ingest_source(
        settings.features, workspace.spans, None if args.bundled else args.source, args.year
    )
    print(f"Ingested {label} as span {span.number}: {span.rows} rows in {span.path}")
    return CommandResult(
        EXIT_OK, {"span": span.number, "rows": span.rows, "path": str(span.path), "source": label}
    )


def command_schema_infer(args: argparse.Namespace) -> int:
    from pipeline.run.console import captured_output
    from pipeline.run.local_run import clean_source

    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve()).create()
    clean_dir = clean_source(settings, workspace, args.data)
    out = args.out or workspace.root / "schema" / "inferred.pbtxt"
    with captured_output(workspace.log_dir / "schema-infer.log"):
        # Imports TensorFlow, whose warnings go to the log.
        from pipeline.intake.schema_inference import infer_schema

        infer_schema(clean_dir, settings.features.label, out)
    print(
        f"Inferred schema written to {out}\nReview it against {settings.schema_path} before adopting changes."
    )
    return EXIT_OK
