"""Every `penguins` help screen fits on one screen and ends by naming its page of docs/.

Through the real console script, at 100 columns, for every command and nested command the parser
has: a new command is checked without being listed here.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO, penguins, penguins_command_lines

MAX_LINES = 32
# The task pages of docs/ (docs/README.md is their index); a help names one of them.
DOCS_PAGES = {page.stem for page in (REPO / "docs").glob("*.md")} - {"README"}


@pytest.mark.parametrize("line", penguins_command_lines(), ids=lambda line: " ".join(line) or "penguins")
def test_help_fits_on_a_screen_and_names_its_docs_page(line):
    result = penguins(*line, "--help", env={"COLUMNS": "100"}, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) <= MAX_LINES, result.stdout
    assert max(len(text) for text in lines) <= 100, result.stdout
    pointer = re.match(r"Docs: docs/([a-z]+)\.md", lines[-1])
    assert pointer and pointer[1] in DOCS_PAGES, lines[-1]
