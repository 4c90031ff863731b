"""The workspace lock that keeps two pipelines from writing one workspace at once."""

from __future__ import annotations

import json
import os
import socket

import pytest

from pipeline.run.lock import WorkspaceBusyError, current_holder, workspace_lock


def test_a_second_holder_is_refused_with_the_first_one_named(tmp_path):
    with (
        workspace_lock(tmp_path, "retrain"),
        pytest.raises(WorkspaceBusyError) as refused,
        workspace_lock(tmp_path, "run"),
    ):
        pass
    assert f"'penguins retrain' (pid {os.getpid()} on {socket.gethostname()}, started " in str(refused.value)
    assert str(tmp_path) in str(refused.value)


def test_the_lock_is_free_again_after_the_holder_leaves_even_by_an_error(tmp_path):
    with pytest.raises(RuntimeError), workspace_lock(tmp_path, "retrain"):
        raise RuntimeError("a failing run")
    with workspace_lock(tmp_path, "run"):
        assert json.loads((tmp_path / "pipeline.lock").read_text())["command"] == "run"
    assert (tmp_path / "pipeline.lock").read_text() == ""


def test_the_holder_is_named_while_the_lock_is_held_and_none_after(tmp_path):
    assert current_holder(tmp_path) is None
    with workspace_lock(tmp_path, "retrain"):
        holder = current_holder(tmp_path)
        assert (holder["command"], holder["pid"]) == ("retrain", os.getpid())
    assert current_holder(tmp_path) is None
