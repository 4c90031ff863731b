"""What a command hands back: its exit code, and what happened as data for `--json`.

Scripts (and `penguins schedule`) read a command's outcome from one JSON object on stdout, never
from the sentences printed for people; with `--json`, those sentences go to stderr. The object is
one line: schedulers that keep a task's last line of output (Airflow's XCom) then keep all of it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import NoReturn, TextIO

from pipeline.cli.help import HelpFormatter
from pipeline.run.exit_codes import EXIT_USAGE, STATUS, CommandResult


class UsageError(Exception):
    """Arguments the parser refused; the message is argparse's one line, `penguins run: error: ...`."""

    def __init__(self, message: str, usage: str):
        super().__init__(message)
        self.usage = usage


class CommandParser(argparse.ArgumentParser):
    """argparse's parser, whose refusals are raised rather than exiting the process.

    argparse prints and exits where the error is found, deep in a subcommand's parser; raised, the
    refusal reaches the command line's one place for outcomes, which writes it as JSON with
    `--json` like any other failure. Subcommands' parsers are of this class too (argparse makes
    them of their parent's class), and so format their help alike (pipeline/cli/help.py).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}", self.format_usage())


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the outcome as one JSON object, on one line of stdout (messages to stderr)",
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
    stream.write(json.dumps(document, default=str) + "\n")
    stream.flush()


def failure(exit_code: int, message: str) -> CommandResult:
    """A command that did not do its work: `message`, one line for people on stderr, and the error
    for `--json`."""
    print(message, file=sys.stderr)
    return CommandResult(exit_code, {"error": message})


def refused(message: str, exit_code: int = EXIT_USAGE) -> CommandResult:
    """A request refused before any work: "Refused: " and why, as `failure` gives it."""
    return failure(exit_code, f"Refused: {message}")
