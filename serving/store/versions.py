"""The TF Serving model repository layout: `<base>/<model_name>/<version>/saved_model.pb`.

A model server polls this folder and loads any numeric directory it finds, so a version must
appear complete or not at all. Publishing copies into a hidden staging directory on the same
file system and renames it into place, which is atomic. The folder also remembers which models
a rollback took out of service, so that they are never labelled or pushed again.
"""

from __future__ import annotations

import functools
import json
import shutil
import time
from pathlib import Path

from serving.store.atomic import staged_directory, write_json_atomically

SAVED_MODEL_FILE = "saved_model.pb"
FINGERPRINT_FILE = "fingerprint.pb"
ROLLED_BACK_FILE = ".rolled-back.json"
SERVING_SIGNATURE = "serving_default"


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


def fingerprint(saved_model_dir: Path) -> str | None:
    """TensorFlow's fingerprint of a SavedModel's graph and weights, written with every SavedModel.

    Two of its fields are left out, so that the same model saved twice is the same. TF 2.21 adds a
    random id on every save. And the checksum of saved_model.pb's bytes changes with the process
    that saved it: the graph's function names carry a process-wide counter, so a Trainer that
    ran after a component which had used TensorFlow in the same process (or one that had not)
    names them differently. The hash TensorFlow takes of the graph with those names normalised,
    the signatures', the object graph's and the weights' stay.
    """
    path = saved_model_dir / FINGERPRINT_FILE
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        return _without_fields(data, _FINGERPRINT_VARYING_FIELDS).hex()
    except (IndexError, ValueError):  # not a protobuf message: it can only equal itself
        return data.hex()


_FINGERPRINT_VARYING_FIELDS = (1, 7)  # FingerprintDef.saved_model_checksum, FingerprintDef.uuid


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position, shift = position + 1, shift + 7
        if not byte & 0x80:
            return value, position


def _without_fields(message: bytes, numbers: tuple[int, ...]) -> bytes:
    """A serialized message minus some fields, read off protobuf's wire format (importing TF is slow)."""
    kept, position = bytearray(), 0
    while position < len(message):
        start = position
        key, position = _varint(message, position)
        wire_type = key & 7
        if wire_type == 0:
            _, position = _varint(message, position)
        elif wire_type == 2:
            length, position = _varint(message, position)
            position += length
        elif wire_type in (1, 5):
            position += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"unexpected wire type {wire_type}")
        if position > len(message):
            raise ValueError("truncated message")
        if key >> 3 not in numbers:
            kept += message[start:position]
    return bytes(kept)


def same_saved_model(a: Path, b: Path) -> bool:
    """True when two SavedModel directories hold the same graph and weights, without reading the weights."""
    fingerprint_a = fingerprint(a)
    return fingerprint_a is not None and fingerprint_a == fingerprint(b)


def load_error(version_dir: Path) -> str | None:
    """Why a version cannot be served, in one line, or None when it loads with a serving signature.

    Files can be complete on disk and still not load (weights deleted, a truncated graph), so the
    only trustworthy check is TensorFlow loading it, as a model server would.
    """
    saved_model = version_dir / SAVED_MODEL_FILE
    if not saved_model.is_file():
        return f"{saved_model} does not exist"
    return _load_error(str(version_dir), _file_states(version_dir))


def _file_states(folder: Path) -> tuple:
    """Every file's path, size and modification time: what must not change for a check to stand."""
    return tuple(
        (str(path), stat.st_size, stat.st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and (stat := path.stat())
    )


@functools.cache
def _load_error(version_dir: str, _file_states: tuple) -> str | None:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(version_dir)
    except Exception as error:
        first_line = next((line for line in str(error).splitlines() if line.strip()), "")
        return f"it does not load: {type(error).__name__}: {first_line}"
    if SERVING_SIGNATURE not in loaded.signatures:
        return f"it has no '{SERVING_SIGNATURE}' signature"
    return None


def publish(saved_model_dir: Path, model_dir: Path) -> int:
    """Copies a SavedModel in as the next version and returns that version number.

    Versions are Unix timestamps, as TFX's Pusher makes them, bumped past the newest existing
    version so that two pushes within one second still order correctly.
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    newest = latest_version(model_dir) or 0
    version = max(int(time.time()), newest + 1)
    with staged_directory(model_dir / str(version)) as staging:
        shutil.copytree(saved_model_dir, staging)
    return version


def rolled_back_models(model_dir: Path) -> dict[str, dict]:
    """Fingerprint -> {"version", "rolled_back_at"} of every model a rollback took out of service."""
    path = model_dir / ROLLED_BACK_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def was_rolled_back(saved_model_dir: Path, model_dir: Path) -> bool:
    """True for a model that a rollback took out of service: it is never labelled or pushed again."""
    found = fingerprint(saved_model_dir)
    return found is not None and found in rolled_back_models(model_dir)


def mark_rolled_back(model_dir: Path, version: int) -> None:
    found = fingerprint(model_dir / str(version))
    if found is None:
        return
    register = rolled_back_models(model_dir)
    register[found] = {"version": version, "rolled_back_at": int(time.time())}
    write_json_atomically(model_dir / ROLLED_BACK_FILE, register)
