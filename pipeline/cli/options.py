"""Options that several `penguins` commands share, defined once so that they read the same."""

from __future__ import annotations

import argparse
import re
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
        "--workspace",
        type=Path,
        default=Path("workspace"),
        metavar="DIR",
        help=f"where {holds} go (default ./workspace)",
    )


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> float:
    """Seconds from e.g. `90s`, `30m`, `24h`, `7d` or `2w`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match or float(match[1]) <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; expected a positive number and a unit, e.g. 30m, 24h, 7d"
        )
    return float(match[1]) * _UNITS[match[2]]


def add_since_option(parser: argparse.ArgumentParser, when: str = "") -> None:
    """--since: the window of logged requests that `penguins monitor` looks at."""
    parser.add_argument(
        "--since",
        type=duration,
        metavar="DURATION",
        help=f"{when}monitor only requests this recent, e.g. 24h or 7d (default: all)",
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
    parser.add_argument(
        "--runner",
        choices=RUNNERS,
        default="local",
        metavar="RUNNER",
        help=f"TFX orchestrator: {' or '.join(RUNNERS)} (default local)",
    )
    add_beam_options(parser)


def add_beam_options(parser: argparse.ArgumentParser) -> None:
    """Adds --beam-preset and --beam-arg to a command that runs a pipeline."""
    presets = load_presets()
    parser.add_argument(
        "--beam-preset",
        choices=(AUTO, *presets.presets),
        default=AUTO,
        metavar="PRESET",
        help=f"Beam options for the Beam-powered components: {', '.join(presets.presets)}, or {AUTO} "
        f"(the default: {presets.small} below {presets.multi_processing_from_rows:,} rows, else "
        f"{presets.large}); each is described in {BEAM_CONFIG.relative_to(BEAM_CONFIG.parents[2])}",
    )
    parser.add_argument(
        "--beam-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="a Beam option passed through, in place of the preset's of the same name, "
        "e.g. --beam-arg=--direct_num_workers=2",
    )


def run_options(args: argparse.Namespace) -> RunOptions:
    """What --runner, --beam-preset, --beam-arg and --no-cache asked for."""
    return RunOptions(args.runner, args.beam_preset, tuple(args.beam_arg), not args.no_cache)
