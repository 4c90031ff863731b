"""The workspace lock that keeps two pipelines from writing one workspace at once."""

from __future__ import annotations

import json
import os

import pytest

from pipeline.lock import WorkspaceBusyError, workspace_lock


def test_a_second_holder_is_refused_with_the_first_one_named(tmp_path):
    with (
        workspace_lock(tmp_path, "retrain"),
        pytest.raises(WorkspaceBusyError) as refused,
        workspace_lock(tmp_path, "run"),
    ):
        pass
    assert f"'penguins retrain' (pid {os.getpid()}, started " in str(refused.value)
    assert str(tmp_path) in str(refused.value)


def test_the_lock_is_free_again_after_the_holder_leaves_even_by_an_error(tmp_path):
    with pytest.raises(RuntimeError), workspace_lock(tmp_path, "retrain"):
        raise RuntimeError("a failing run")
    with workspace_lock(tmp_path, "run"):
        assert json.loads((tmp_path / "pipeline.lock").read_text())["command"] == "run"
    assert (tmp_path / "pipeline.lock").read_text() == ""
