"""Options that several `penguins` commands share, defined once so that they read the same."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.run.beam_options import add_beam_options

RUNNERS = ("local", "beam")


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="pipeline config file (default: the embedded penguins config)"
    )


def add_workspace_option(parser: argparse.ArgumentParser, holds: str = "all outputs") -> None:
    parser.add_argument(
        "--workspace", type=Path, default=Path("workspace"), help=f"where {holds} go (default ./workspace)"
    )


def add_runner_options(parser: argparse.ArgumentParser) -> None:
    """The TFX orchestrator and the Beam options of the components that run on Beam."""
    parser.add_argument("--runner", choices=RUNNERS, default="local", help="TFX orchestrator")
    add_beam_options(parser)
