"""The TF Serving model repository layout: `<base>/<model_name>/<version>/saved_model.pb`.

A model server polls this folder and loads any numeric directory it finds, so a version must
appear complete or not at all. Publishing copies into a hidden staging directory on the same
file system and renames it into place, which is atomic.
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import time
from pathlib import Path

SAVED_MODEL_FILE = "saved_model.pb"
FINGERPRINT_FILE = "fingerprint.pb"


def list_versions(model_dir: Path) -> list[int]:
    """Complete versions in ascending order; staging and non-numeric entries are ignored."""
    if not model_dir.is_dir():
        return []
    return sorted(
        int(entry.name)
        for entry in model_dir.iterdir()
        if entry.name.isdigit() and (entry / SAVED_MODEL_FILE).is_file()
    )


def latest_version(model_dir: Path) -> int | None:
    versions = list_versions(model_dir)
    return versions[-1] if versions else None


def same_saved_model(a: Path, b: Path) -> bool:
    """True when two SavedModel directories hold the same graph and weights.

    TensorFlow writes a fingerprint of graph and checkpoint with every SavedModel; comparing it
    avoids reading the variables.
    """
    fa, fb = a / FINGERPRINT_FILE, b / FINGERPRINT_FILE
    if fa.is_file() and fb.is_file():
        return filecmp.cmp(fa, fb, shallow=False)
    return False


def publish(saved_model_dir: Path, model_dir: Path) -> int:
    """Copies a SavedModel in as the next version and returns that version number.

    Versions are Unix timestamps, as TFX's Pusher makes them, bumped past the newest existing
    version so that two pushes within one second still order correctly.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    newest = latest_version(model_dir) or 0
    version = max(int(time.time()), newest + 1)
    staging = model_dir / f".staging-{version}-{os.getpid()}"
    try:
        shutil.copytree(saved_model_dir, staging)
        os.rename(staging, model_dir / str(version))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return version


ROLLED_BACK_FILE = ".rolled-back.json"


class VersionError(ValueError):
    """A rollback that cannot be done; the message says what versions there are."""


def _fingerprint(saved_model_dir: Path) -> str | None:
    path = saved_model_dir / FINGERPRINT_FILE
    return path.read_bytes().hex() if path.is_file() else None


def rolled_back_models(model_dir: Path) -> dict[str, dict]:
    path = model_dir / ROLLED_BACK_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def was_rolled_back(saved_model_dir: Path, model_dir: Path) -> bool:
    """True for a model that a rollback took out of service: a re-run must not push it again."""
    fingerprint = _fingerprint(saved_model_dir)
    return fingerprint is not None and fingerprint in rolled_back_models(model_dir)


def rollback(model_dir: Path, to_version: int | None = None) -> tuple[int, int, int]:
    """Serves an earlier version again by publishing a copy of it as the newest version.

    Model servers serve the newest versions, so going back means going forward with old
    weights. The model being replaced is remembered, so the pipeline will not push it again.
    Returns (new version, the version it copies, the version it replaces).
    """
    existing = list_versions(model_dir)
    if not existing:
        raise VersionError(f"{model_dir}: no version is served, so there is nothing to roll back")
    current = existing[-1]
    if to_version is None:
        earlier = [
            v
            for v in reversed(existing[:-1])
            if not same_saved_model(model_dir / str(v), model_dir / str(current))
        ]
        if not earlier:
            raise VersionError(
                f"{model_dir}: no earlier version holds a different model; versions: {existing}"
            )
        to_version = earlier[0]
    elif to_version not in existing:
        raise VersionError(f"{model_dir}: there is no version {to_version}; versions: {existing}")
    elif same_saved_model(model_dir / str(to_version), model_dir / str(current)):
        raise VersionError(f"version {to_version} holds the model already served as version {current}")
    fingerprint = _fingerprint(model_dir / str(current))
    if fingerprint is not None:
        refused = rolled_back_models(model_dir)
        refused[fingerprint] = {"version": current, "rolled_back_at": int(time.time())}
        partial = model_dir / f"{ROLLED_BACK_FILE}.partial"
        partial.write_text(json.dumps(refused, indent=2))
        os.replace(partial, model_dir / ROLLED_BACK_FILE)
    return publish(model_dir / str(to_version), model_dir), to_version, current
