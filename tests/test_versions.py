import os
import threading

import pytest

from serving.versions import (
    VersionError,
    latest_version,
    list_versions,
    publish,
    rollback,
    same_saved_model,
    was_rolled_back,
)


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


def test_rollback_serves_the_last_different_model_and_remembers_the_replaced_one(tmp_path):
    model_dir = tmp_path / "serving"
    old = publish(_fake_saved_model(tmp_path / "old", b"old"), model_dir)
    publish(_fake_saved_model(tmp_path / "new", b"new"), model_dir)
    current = publish(tmp_path / "new", model_dir)  # the same new model pushed twice
    new_version, copied, replaced = rollback(model_dir)
    assert (copied, replaced) == (old, current)
    assert latest_version(model_dir) == new_version > current
    assert same_saved_model(model_dir / str(new_version), model_dir / str(old))
    assert was_rolled_back(tmp_path / "new", model_dir)
    assert not was_rolled_back(tmp_path / "old", model_dir)


def test_rollback_refuses_what_it_cannot_do(tmp_path):
    model_dir = tmp_path / "serving"
    with pytest.raises(VersionError, match="nothing to roll back"):
        rollback(model_dir)
    only = publish(_fake_saved_model(tmp_path / "m"), model_dir)
    with pytest.raises(VersionError, match="no earlier version holds a different model"):
        rollback(model_dir)
    with pytest.raises(VersionError, match=f"no version 5; versions: \\[{only}\\]"):
        rollback(model_dir, 5)
