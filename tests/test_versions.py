import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from serving.store.config_protos import parse_model_server_config
from serving.store.model_config import (
    CANARY,
    STABLE,
    choose_labels,
    read_labels,
    render_live_config,
    served_version,
)
from serving.store.rollback import VersionError, rollback
from serving.store.versions import (
    fingerprint,
    latest_version,
    list_versions,
    load_error,
    publish,
    rolled_back_models,
    same_saved_model,
    was_rolled_back,
)
from tests.helpers import tree_snapshot


def _fake_saved_model(folder, fingerprint=b"one"):
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"graph")
    (folder / "fingerprint.pb").write_bytes(fingerprint)
    (folder / "variables").mkdir()
    (folder / "variables" / "variables.index").write_bytes(b"weights")
    return folder


def test_publish_adds_a_complete_numbered_version(tmp_path):
    source = _fake_saved_model(tmp_path / "model")
    model_dir = tmp_path / "serving" / "penguins"
    version = publish(source, model_dir)
    assert list_versions(model_dir) == [version]
    assert (model_dir / str(version) / "variables" / "variables.index").read_bytes() == b"weights"
    assert [p.name for p in model_dir.iterdir()] == [str(version)]  # no staging left behind


def test_versions_increase_even_within_one_second(tmp_path):
    source = _fake_saved_model(tmp_path / "model")
    model_dir = tmp_path / "serving"
    versions = [publish(source, model_dir) for _ in range(3)]
    assert versions == sorted(set(versions))
    assert latest_version(model_dir) == versions[-1]


def test_incomplete_and_staging_directories_are_not_versions(tmp_path):
    model_dir = tmp_path / "serving"
    (model_dir / "123").mkdir(parents=True)  # no saved_model.pb yet
    _fake_saved_model(model_dir / ".staging-200-1")
    _fake_saved_model(model_dir / "100")
    assert list_versions(model_dir) == [100]


def test_a_poller_never_sees_a_half_written_version(tmp_path):
    """Watch the folder while publishing: every version that is listed is already complete."""
    source = _fake_saved_model(tmp_path / "model")
    for index in range(50):
        (source / "variables" / f"shard-{index}").write_bytes(os.urandom(20_000))
    model_dir = tmp_path / "serving"
    model_dir.mkdir()
    expected = sorted(p.relative_to(source) for p in source.rglob("*"))
    seen_incomplete = []
    done = threading.Event()

    def poll():
        while not done.is_set():
            for entry in model_dir.iterdir():
                if (
                    entry.name.isdigit()
                    and sorted(p.relative_to(entry) for p in entry.rglob("*")) != expected
                ):
                    seen_incomplete.append(entry.name)

    poller = threading.Thread(target=poll)
    poller.start()
    for _ in range(5):
        publish(source, model_dir)
    done.set()
    poller.join()
    assert seen_incomplete == []
    assert len(list_versions(model_dir)) == 5


def test_same_saved_model_compares_fingerprints(tmp_path):
    a = _fake_saved_model(tmp_path / "a", b"x")
    b = _fake_saved_model(tmp_path / "b", b"x")
    c = _fake_saved_model(tmp_path / "c", b"y")
    assert same_saved_model(a, b)
    assert not same_saved_model(a, c)
    assert not same_saved_model(a, tmp_path / "missing")


def _push(model: Path, serving_root: Path) -> int:
    """What the Pusher does: publish, then label what may be served."""
    version = publish(model, serving_root / "penguins")
    render_live_config(serving_root, "penguins", choose_labels(serving_root / "penguins"))
    return version


def _live_model(serving_root: Path):
    (model,) = parse_model_server_config(serving_root / "models.config").model_config_list.config
    return model


def test_rollback_serves_the_newest_earlier_model_and_never_labels_the_rejected_one(
    tmp_path, exported_model_dir, other_model_dir
):
    good = _push(exported_model_dir, tmp_path)
    bad = _push(other_model_dir, tmp_path)
    assert read_labels(tmp_path, "penguins") == {CANARY: bad, STABLE: good}

    done = rollback(tmp_path, "penguins")

    assert (done.restored, done.replaced) == (good, bad)
    assert latest_version(tmp_path / "penguins") == done.version > bad
    assert same_saved_model(tmp_path / "penguins" / str(done.version), exported_model_dir)
    assert done.labels == read_labels(tmp_path, "penguins") == {CANARY: done.version, STABLE: good}
    assert bad not in read_labels(tmp_path, "penguins").values()
    # Servers load exactly the labelled versions; the rejected one is not among them.
    assert list(_live_model(tmp_path).model_version_policy.specific.versions) == [good, done.version]
    assert served_version(tmp_path, "penguins") == done.version
    assert was_rolled_back(other_model_dir, tmp_path / "penguins")
    assert not was_rolled_back(exported_model_dir, tmp_path / "penguins")


def test_a_second_rollback_goes_further_back_and_never_returns_to_a_rejected_model(
    tmp_path, exported_model_dir, other_model_dir, train_model
):
    first = _push(exported_model_dir, tmp_path)
    second = _push(other_model_dir, tmp_path)
    third = _push(train_model(3, 1), tmp_path)
    model_dir = tmp_path / "penguins"

    once = rollback(tmp_path, "penguins")
    assert (once.restored, once.replaced) == (second, third)
    twice = rollback(tmp_path, "penguins")
    assert (twice.restored, twice.replaced) == (first, once.version)
    assert same_saved_model(model_dir / str(twice.version), exported_model_dir)
    assert twice.passed_over == {
        third: "its model was rolled back out of service earlier",
        second: f"it holds the model already served as version {once.version}",
    }
    # The register of rolled-back models never holds the model being served.
    register = rolled_back_models(model_dir)
    assert {entry["version"] for entry in register.values()} == {third, once.version}
    assert not was_rolled_back(model_dir / str(twice.version), model_dir)
    assert set(read_labels(tmp_path, "penguins").values()) == {first, twice.version}

    with pytest.raises(VersionError, match="no earlier version can be served") as refused:
        rollback(tmp_path, "penguins")
    assert f"version {third}: its model was rolled back out of service earlier" in str(refused.value)
    with pytest.raises(VersionError, match=f"version {second} cannot be served: its model was rolled back"):
        rollback(tmp_path, "penguins", second)


def test_rollback_passes_over_and_refuses_versions_that_do_not_load(
    tmp_path, exported_model_dir, other_model_dir, train_model
):
    good = _push(exported_model_dir, tmp_path)
    no_variables = _push(other_model_dir, tmp_path)
    truncated = _push(train_model(3, 1), tmp_path)
    _push(train_model(4, 1), tmp_path)
    model_dir = tmp_path / "penguins"
    shutil.rmtree(model_dir / str(no_variables) / "variables")
    graph = model_dir / str(truncated) / "saved_model.pb"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    before = tree_snapshot(tmp_path)

    with pytest.raises(VersionError, match=f"version {truncated} cannot be served: it does not load"):
        rollback(tmp_path, "penguins", truncated)
    with pytest.raises(VersionError, match=f"version {no_variables} cannot be served: it does not load"):
        rollback(tmp_path, "penguins", no_variables)
    assert tree_snapshot(tmp_path) == before  # a refused rollback changes nothing

    done = rollback(tmp_path, "penguins")
    assert done.restored == good
    assert done.passed_over[truncated].startswith("it does not load")
    assert done.passed_over[no_variables].startswith("it does not load")
    assert set(done.labels.values()) == {good, done.version}
    assert load_error(model_dir / str(done.version)) is None


def test_rollback_refuses_what_it_cannot_do(tmp_path, exported_model_dir):
    with pytest.raises(VersionError, match="no version is served, so there is nothing to roll back"):
        rollback(tmp_path, "penguins")
    only = _push(exported_model_dir, tmp_path)
    with pytest.raises(VersionError, match="no earlier version can be served"):
        rollback(tmp_path, "penguins")
    with pytest.raises(VersionError, match=f"no version 5; versions: \\[{only}\\]"):
        rollback(tmp_path, "penguins", 5)


def test_the_same_model_saved_twice_is_the_same_and_other_weights_are_not(tmp_path):
    """TF 2.21 writes a random id into each save's fingerprint; it must not make a model new. Nor
    must the functions a process traced before saving, which renumber the graph's functions.

    Each save runs in its own process, as each Trainer run does.
    """
    script = (
        "import sys, tensorflow as tf\n"
        "for n in range(int(sys.argv[3])):\n"
        "    tf.function(lambda x: x + n).get_concrete_function(tf.TensorSpec([]))\n"
        "module = tf.Module()\n"
        "module.weight = tf.Variable([1.0, float(sys.argv[2])])\n"
        "module.predict = tf.function(lambda x: x * module.weight, input_signature=[tf.TensorSpec([2])])\n"
        "tf.saved_model.save(module, sys.argv[1])\n"
    )
    saves = (("first", "2", "0"), ("second", "2", "0"), ("after tracing", "2", "3"), ("changed", "3", "0"))
    for name, weight, traced_before in saves:
        command = [sys.executable, "-c", script, str(tmp_path / name), weight, traced_before]
        subprocess.run(command, check=True, capture_output=True)
    graphs = [(tmp_path / name / "saved_model.pb").read_bytes() for name in ("first", "after tracing")]
    assert graphs[0] != graphs[1]  # the same model, its functions numbered otherwise
    assert same_saved_model(tmp_path / "first", tmp_path / "second")
    assert same_saved_model(tmp_path / "first", tmp_path / "after tracing")
    assert not same_saved_model(tmp_path / "first", tmp_path / "changed")
    assert fingerprint(tmp_path / "first") == fingerprint(tmp_path / "second")
