"""Rollback end to end through the `penguins` command: what runs, history and `versions` say after it.

Two real runs push two different models; the tests then roll back and run again, in file order,
on one workspace.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from pipeline.config.settings import DEFAULT_CONFIG
from serving.store.versions import list_versions
from tests.helpers import REPO, penguins, tree_snapshot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pushed_twice(tmp_path_factory):
    """A workspace where the bundled run pushed a model, then a barely trained one was pushed over it."""
    workspace = tmp_path_factory.mktemp("rollback-workspace")
    first = penguins("run", "--workspace", str(workspace))
    assert first.returncode == 0, first.stdout + first.stderr
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(REPO / "schema" / "penguins" / "schema.pbtxt")
    config["training"]["epochs"] = 1
    config["evaluation"].update(min_accuracy=0.0, max_accuracy_drop=1.0)  # always blessed
    config_path = workspace / "always-blessed.yaml"
    config_path.write_text(yaml.safe_dump(config))
    second = penguins("run", "--workspace", str(workspace), "--config", str(config_path))
    assert second.returncode == 0, second.stdout + second.stderr
    good, worse = list_versions(workspace / "serving" / "penguins")
    return workspace, config_path, good, worse


def _json(*args: str) -> dict:
    result = penguins(*args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_rollback_then_a_cached_run_of_the_rejected_model_pushes_nothing_and_says_so(pushed_twice):
    workspace, config_path, good, worse = pushed_twice
    rolled_back = _json("rollback", "--workspace", str(workspace))
    assert (rolled_back["restored"], rolled_back["replaced"]) == (good, worse)
    assert rolled_back["labels"] == {"canary": rolled_back["version"], "stable": good}
    served_before = tree_snapshot(workspace / "serving")

    again = penguins("run", "--workspace", str(workspace), "--config", str(config_path), "--json")

    assert again.returncode == 0, again.stdout + again.stderr
    outcome = json.loads(again.stdout)
    assert outcome["run"]["pushed_version"] is None and outcome["run"]["rolled_back"] is True
    assert "Pushed:    nothing; this model was rolled back out of service earlier" in again.stderr
    assert tree_snapshot(workspace / "serving") == served_before
    (newest, *_) = json.loads(penguins("history", "--workspace", str(workspace), "--json").stdout)
    assert newest["run_id"] == outcome["run"]["run_id"]
    assert newest["pushed_version"] is None
    assert "rolled back earlier, not pushed" in penguins("history", "--workspace", str(workspace)).stdout


def test_versions_shows_each_versions_run_accuracy_labels_and_state(pushed_twice):
    workspace, _, good, worse = pushed_twice
    model_dir = workspace / "serving" / "penguins"
    broken = model_dir / str(max(list_versions(model_dir)) + 1000)
    shutil.copytree(model_dir / str(good), broken)
    shutil.rmtree(broken / "variables")

    listing = _json("versions", "--workspace", str(workspace))

    history = json.loads(penguins("history", "--workspace", str(workspace), "--json").stdout)
    accuracy_of_run = {
        entry["run_id"]: next(a["candidate"] for a in entry["accuracy"] if a["name"] == "overall")
        for entry in history
        if entry["accuracy"]
    }
    by_version = {entry["version"]: entry for entry in listing["versions"]}
    copy = listing["served_version"]
    assert list(by_version) == [int(broken.name), copy, worse, good]  # newest first
    assert by_version[int(broken.name)]["state"] == "broken"
    assert by_version[int(broken.name)]["problem"].startswith("it does not load")
    assert by_version[copy] | {"accuracy": None} == {
        "version": copy,
        "state": "served",
        "labels": ["canary"],
        "run_id": by_version[good]["run_id"],
        "copy_of": good,
        "accuracy": None,
        "examples": by_version[good]["examples"],
        "problem": None,
    }
    assert by_version[worse]["state"] == "rolled back" and by_version[worse]["labels"] == []
    assert by_version[good]["state"] == "loaded" and by_version[good]["labels"] == ["stable"]
    for version in (copy, worse, good):
        assert by_version[version]["accuracy"] == accuracy_of_run[by_version[version]["run_id"]]
    assert by_version[good]["run_id"] != by_version[worse]["run_id"]

    text = penguins("versions", "--workspace", str(workspace)).stdout
    assert f"a rollback's copy of version {good}" in text
    assert "broken" in text and "rolled back" in text
