"""Commands that only read a workspace refuse a folder that does not exist, and create nothing."""

from __future__ import annotations

import json

import pytest

from pipeline.run.exit_codes import EXIT_USAGE
from tests.helpers import penguins

READ_ONLY = [["monitor"], ["history"], ["versions"], ["labels", "list"], ["labels", "remove", "any"]]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_missing_workspace_is_refused_in_one_line_and_not_created(tmp_path, command):
    missing = tmp_path / "typo"
    result = penguins(*command, "--workspace", str(missing))
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"Refused: {missing}: no such workspace folder; expected one that `penguins run` or "
        "`penguins serve` wrote (check --workspace)"
    )
    assert not missing.exists()


def test_a_missing_workspace_is_an_error_object_with_json(tmp_path):
    missing = tmp_path / "typo"
    result = penguins("monitor", "--workspace", str(missing), "--json")
    outcome = json.loads(result.stdout)
    assert (outcome["exit_code"], outcome["status"]) == (EXIT_USAGE, "usage_error")
    assert str(missing) in outcome["error"] and not missing.exists()
