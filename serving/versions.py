"""The TF Serving model repository layout: `<base>/<model_name>/<version>/saved_model.pb`.

A model server polls this folder and loads any numeric directory it finds, so a version must
appear complete or not at all. Publishing copies into a hidden staging directory on the same
file system and renames it into place, which is atomic.
"""

from __future__ import annotations

import filecmp
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
