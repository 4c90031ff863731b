"""How every `penguins` help screen reads: one screen at most, and the docs page for more last.

A help screen says what each flag does; why, and how the pieces fit together, is on the page of
docs/ it names (tests/test_cli_help.py keeps both true).
"""

from __future__ import annotations

import argparse
import textwrap


def docs_epilog(page: str) -> str:
    """The last line of a command's help, e.g. `Docs: docs/serving.md`."""
    return f"Docs: docs/{page}.md"


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, with flags a little wider before their help moves to a line of its own, and no
    line broken inside a hyphenated word (`multi-processing`, `--grpc-port`)."""

    def __init__(self, prog: str):
        super().__init__(prog, max_help_position=30)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def add_command(commands, name: str, summary: str, docs_page: str) -> argparse.ArgumentParser:
    """A subcommand of `commands` (argparse's subparsers) whose help is `summary` in the list of
    commands and ends with its docs page on its own screen."""
    return commands.add_parser(name, help=summary, epilog=docs_epilog(docs_page))
