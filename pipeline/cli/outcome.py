"""What a command hands back: its exit code, and what happened as data for `--json`.

Scripts (and `penguins schedule`) read a command's outcome from one JSON object on stdout, never
from the sentences printed for people; with `--json`, those sentences go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

from pipeline.run.exit_codes import STATUS, CommandResult


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the outcome as one JSON object on stdout (messages for people go to stderr)",
    )
    parser.set_defaults(json_outcome=True)


def json_stream() -> TextIO:
    """A stream to the real stdout, for the JSON outcome; stdout itself now goes to stderr."""
    sys.stdout.flush()
    stream = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return stream


def write_outcome(stream: TextIO, command: str, result: CommandResult) -> None:
    document = {
        "command": command,
        "exit_code": result.exit_code,
        "status": STATUS.get(result.exit_code, "failed"),
        **result.outcome,
    }
    stream.write(json.dumps(document, indent=2, default=str) + "\n")
    stream.flush()
