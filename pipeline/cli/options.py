"""Options that several `penguins` commands share, defined once so that they read the same."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.run.beam_options import AUTO, BEAM_CONFIG, load_presets
from pipeline.run.run_options import RunOptions
from pipeline.run.runner import RUNNERS


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="pipeline config file (default: the embedded penguins config)"
    )


def add_workspace_option(parser: argparse.ArgumentParser, holds: str = "all outputs") -> None:
    parser.add_argument(
        "--workspace", type=Path, default=Path("workspace"), help=f"where {holds} go (default ./workspace)"
    )


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """The config, a data source instead of the config's, and the workspace: for commands that read data."""
    add_config_option(parser)
    parser.add_argument(
        "--data", help="a raw CSV file or a folder of them, instead of the config's data source"
    )
    add_workspace_option(parser)


def add_runner_options(parser: argparse.ArgumentParser) -> None:
    """The TFX orchestrator and the Beam options of the components that run on Beam."""
    parser.add_argument("--runner", choices=RUNNERS, default="local", help="TFX orchestrator")
    add_beam_options(parser)


def add_beam_options(parser: argparse.ArgumentParser) -> None:
    """Adds --beam-preset and --beam-arg to a command that runs a pipeline."""
    presets = load_presets()
    listing = "; ".join(f"{p.name}: {p.description}" for p in presets.presets.values())
    parser.add_argument(
        "--beam-preset",
        choices=(AUTO, *presets.presets),
        default=AUTO,
        help=f"Beam options for the Beam-powered components (default {AUTO}: {presets.small} below "
        f"{presets.multi_processing_from_rows:,} rows of data, else {presets.large}). {listing}. "
        f"Defined in {BEAM_CONFIG.relative_to(BEAM_CONFIG.parents[2])}",
    )
    parser.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="a Beam pipeline option passed through; it replaces the preset's option (or experiment) "
        "of the same name, e.g. --beam-arg=--direct_num_workers=2",
    )


def run_options(args: argparse.Namespace) -> RunOptions:
    """What --runner, --beam-preset, --beam-arg and --no-cache asked for."""
    return RunOptions(args.runner, args.beam_preset, tuple(args.beam_arg), not args.no_cache)
