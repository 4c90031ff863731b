"""Knows when a run would change nothing, so that `penguins run` can say so in a second.

A run is determined by its cleaned data, config, schema, code, runner options and library
versions. When all of these match the last completed run, and the model that run left being
served is still the one served, TFX would reuse every cached component and only re-evaluate
the served model against itself. This check answers the same without importing TensorFlow.
`--rerun` skips it and goes through TFX's own cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.config.settings import REPO_ROOT, Settings
from pipeline.config.workspace import Workspace
from pipeline.definition.cache_keys import PROJECT_PACKAGES, library_versions
from pipeline.metadata.store import store_exists
from pipeline.reporting.history_text import format_history
from serving.store.atomic import write_json_atomically

RECORD_FILE = "last_run.json"


def run_key(
    settings: Settings, workspace: Workspace, clean_data_dir: Path, runner: str, beam_args: list[str]
) -> str:
    digest = hashlib.sha256()
    store = settings.metadata_location(workspace).describe()
    digest.update(json.dumps([str(clean_data_dir), runner, beam_args, store]).encode())
    for path in (settings.config_path, settings.schema_path):
        digest.update(path.read_bytes())
    for package in PROJECT_PACKAGES:
        for source in sorted((REPO_ROOT / package).rglob("*.py")):
            digest.update(source.read_bytes())
    digest.update(repr(sorted(library_versions().items())).encode())
    return digest.hexdigest()


def _record_path(workspace: Workspace) -> Path:
    return workspace.root / RECORD_FILE


def unchanged_run(
    settings: Settings, workspace: Workspace, key: str, served_version: int | None
) -> dict | None:
    """The last run's record when nothing has changed since it, otherwise None."""
    try:
        record = json.loads(_record_path(workspace).read_text())
    except (OSError, ValueError):
        return None
    if record.get("key") != key or not store_exists(settings.metadata_location(workspace)):
        return None
    if record.get("served_version") != served_version:
        return None
    return record


def remember_run(workspace: Workspace, key: str, entry: dict, served_version: int | None) -> None:
    """Records a completed run (its history entry) and the version served after it."""
    write_json_atomically(
        _record_path(workspace), {"key": key, "entry": entry, "served_version": served_version}
    )


def up_to_date_lines(record: dict) -> list[str]:
    """What is true now, for a run that would change nothing: what is served, and the run it repeats."""
    entry, served = record["entry"], record["served_version"]
    trained_by_it = entry["pushed_version"] is not None and int(entry["pushed_version"]) == served
    origin = "the model that run trained" if trained_by_it else "not a model of that run"
    return [
        "Up to date: data, config, schema, code and libraries are unchanged since the run below,",
        "and the same model is served. Nothing to do (--rerun runs through TFX's cache anyway).",
        f"Served:    version {served}, {origin}" if served is not None else "Served:    nothing",
        "Last run:",
        *(f"  {line}" for line in format_history([entry])),
    ]
