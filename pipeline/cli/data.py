"""`penguins ingest`, `schema infer`/`review` and `synth`: data in, a schema to review, and data at scale."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from pipeline.cli.help import add_command
from pipeline.cli.options import add_config_option, add_source_options, add_workspace_option
from pipeline.cli.outcome import add_json_option
from pipeline.config.settings import Settings, load_settings
from pipeline.config.workspace import Workspace
from pipeline.definition.split_check import require_every_split
from pipeline.intake.raw_csv import NoDataError
from pipeline.intake.synth import OUTPUT_FILE, synthesize
from pipeline.run.exit_codes import EXIT_OK, EXIT_USAGE, CommandResult


def add_data_parsers(commands) -> None:
    schema = add_command(commands, "schema", "schema tools", "running")
    schema_commands = schema.add_subparsers(dest="schema_command", required=True, metavar="COMMAND")
    infer = add_command(
        schema_commands, "infer", "infer a schema from data, for review against the curated one", "running"
    )
    add_source_options(infer)
    infer.add_argument(
        "--out", type=Path, help="where to write it (default: WORKSPACE/schema/inferred.pbtxt)"
    )
    infer.set_defaults(handler=command_schema_infer)
    review = add_command(
        schema_commands,
        "review",
        "a span's schema anomalies, and the schema edit that would accept them",
        "running",
    )
    review.add_argument("--span", type=int, help="the span to review (default: the newest)")
    review.add_argument(
        "--accept", action="store_true", help="write the edit into the schema file, after a person checked it"
    )
    add_config_option(review)
    add_workspace_option(review, "spans")
    add_json_option(review)
    review.set_defaults(handler=command_schema_review)

    ingest = add_command(
        commands, "ingest", "clean a raw CSV and add it to the workspace as the next span", "running"
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
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    workspace = Workspace(args.workspace.resolve()).create()
    with captured_output(workspace.log_dir / "ingest.log"):
        # The split check imports TensorFlow, whose warnings go to the log.
        span, label = ingest_source(
            settings.features,
            workspace.spans,
            None if args.bundled else args.source,
            args.year,
            check_splits=functools.partial(require_every_split, settings),
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


def _span_to_review(workspace: Workspace, number: int | None):
    from pipeline.intake.spans import list_spans

    spans = list_spans(workspace.spans)
    chosen = [span for span in spans if number is None or span.number == number]
    if not chosen:
        wanted = "no spans" if number is None else f"no span {number}"
        known = ", ".join(str(span.number) for span in spans) or "none"
        raise NoDataError(f"{workspace.spans}: {wanted} to review (spans there: {known})")
    return chosen[-1]


def command_schema_review(args: argparse.Namespace) -> CommandResult:
    from pipeline.run.console import captured_output

    settings = load_settings(args.config)
    schema_path = settings.require_schema()
    workspace = Workspace(args.workspace.resolve())
    span = _span_to_review(workspace, args.span)
    with captured_output(workspace.log_dir / "schema-review.log"):
        # Imports TensorFlow, whose warnings go to the log.
        from pipeline.intake.schema_review import accept, review_span

        review = review_span(span, schema_path)
    outcome = {
        "span": span.number,
        "schema": str(schema_path),
        "anomalies": review.anomalies,
        "diff": review.diff,
        "accepted": False,
    }
    if not review.anomalies:
        print(f"Span {span.number} has no schema anomalies against {schema_path}; nothing to change.")
        return CommandResult(EXIT_OK, outcome)
    print(f"Span {span.number} ({span.source}) against {schema_path}:")
    print("\n".join(f"  - {anomaly}" for anomaly in review.anomalies))
    if not args.accept:
        print(f"The schema edit that accepts it:\n{review.diff}")
        print(
            f"If these values are real, accept the edit with `penguins schema review --span {span.number} "
            "--accept`; the next retrain then tries the span again."
        )
        return CommandResult(EXIT_OK, outcome)
    accept(review, schema_path)
    print(f"Schema updated: {schema_path}\n{review.diff}")
    print("The next `penguins retrain` (or `retrain --when-quality-dips`) tries the span again.")
    return CommandResult(EXIT_OK, {**outcome, "accepted": True})


def add_synth_parser(commands, settings: Settings) -> None:
    synth = add_command(commands, "synth", "write synthetic data of any size, fitted to real data", "scaling")
    synth.add_argument("--rows", type=int, required=True, help="how many rows to write")
    synth.add_argument("--out", type=Path, required=True, help=f"the folder to write {OUTPUT_FILE} into")
    synth.add_argument("--config", type=Path, help="pipeline config naming label and numeric features")
    synth.add_argument("--data", help=f"the real raw CSV to fit (default: {settings.data_source})")
    synth.add_argument("--seed", type=int, default=0, help="the same seed writes the same rows")
    add_json_option(synth)
    synth.set_defaults(handler=command_synth)


def _out_refusal(out: Path) -> str | None:
    """Why --out cannot be the folder to write into (a file where it, or a folder above it, would be)."""
    existing = next((path for path in (out, *out.parents) if path.exists()), None)
    if existing is None or existing.is_dir():
        return None
    where = f"--out {out} is a file" if existing == out else f"--out {out} is under {existing}, a file"
    return (
        f"{where}; expected a folder to write {OUTPUT_FILE} into (made if missing): choose another "
        f"--out, or move {existing} away"
    )


def _refuse(message: str) -> CommandResult:
    print(message, file=sys.stderr)
    return CommandResult(EXIT_USAGE, {"error": message})


def command_synth(args: argparse.Namespace) -> CommandResult:
    if args.rows < 1:
        return _refuse(f"--rows must be at least 1 (got {args.rows})")
    refusal = _out_refusal(args.out)
    if refusal:
        return _refuse(refusal)
    settings = load_settings(args.config)
    source = args.data or settings.data_source
    path, model, fitted = synthesize(settings.features, source, args.rows, args.out, args.seed)
    shares = ", ".join(f"{name} {spec.share:.0%}" for name, spec in model.classes.items())
    print(f"Wrote {args.rows} synthetic rows to {path} ({shares}), fitted to {fitted}")
    return CommandResult(
        EXIT_OK,
        {
            "rows": args.rows,
            "path": str(path),
            "fitted_to": str(fitted),
            "shares": {name: spec.share for name, spec in model.classes.items()},
        },
    )
