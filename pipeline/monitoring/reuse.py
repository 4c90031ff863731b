"""A `penguins monitor` run with nothing new answers from the last run, without starting TensorFlow.

Most of a monitor run is start-up: importing TensorFlow and TFDV to read the log and measure skew
(benchmarks/monitor_speed.py prints the figures). When nothing it reads has changed since the last
run, the outcome would be the same, so that run's outcome is answered again, and its report.
What it reads: the request log, the label batches, the metadata store (blessed accuracies and the
training statistics' whereabouts), the serving folder (the served and pushed versions), the
training statistics themselves, the config and the schema, the monitoring code, and the window.
Files are compared by path, size and modification time in nanoseconds, which every write changes;
the config, schema and code by content. A window (--since) also moves with the clock: the last
outcome holds only while no request it counted has left the window.

Imports nothing heavy: this is what a monitor run with nothing new costs.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from pathlib import Path

from pipeline.config.metadata_location import MetadataLocation, MysqlLocation
from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.metadata.server import content_fingerprint
from pipeline.monitoring.history import record_outcome
from serving.store.atomic import write_json_atomically

_CODE = Path(__file__).resolve().parent  # the monitoring code: another version may answer otherwise
_FORMAT = 1  # of what is remembered


def _remembered(workspace: Workspace) -> Path:
    return workspace.root / "monitoring" / "last_monitor_inputs.json"


def _files(root: Path) -> list[list]:
    """Path, size and modification time (ns) of `root`, or of every file under it.

    A file gone between listing and reading (a temporary file renamed) is left out: it was not
    read either.
    """
    found = []
    for path in [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append([str(path), stat.st_size, stat.st_mtime_ns])
    return found


def _content(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _metadata_state(location: MetadataLocation) -> list:
    """What changes whenever a run records anything in the store."""
    if isinstance(location, MysqlLocation):
        return [location.describe(), *content_fingerprint(location)]
    # SQLite keeps recent writes in -wal and -journal files beside the store.
    path = location.path
    return [entry for found in sorted(path.parent.glob(f"{path.name}*")) for entry in _files(found)]


def inputs_key(settings: Settings, workspace: Workspace, since_seconds: float | None) -> str:
    """One digest of everything a monitor run reads, apart from the training statistics (see `watched`)."""
    key = {
        "format": _FORMAT,
        "since_seconds": since_seconds,
        "config": _content(settings.config_path),
        "schema": _content(settings.schema_path),
        "code": [_content(path) for path in sorted(_CODE.glob("*.py"))],
        "request_log": _files(workspace.request_log_dir),
        "labels": _files(workspace.labels_dir),
        "metadata": _metadata_state(settings.metadata_location(workspace)),
        "serving": _files(workspace.serving_root),
    }
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()


def remember(
    workspace: Workspace, key: str, watched: list[Path], first_logged_us: int | None, outcome: dict
) -> None:
    """Keeps what a computed run read (`key`, and the files at `watched`), and its outcome.

    `first_logged_us` is the time of the oldest request in a --since window, the first to leave it.
    """
    write_json_atomically(
        _remembered(workspace),
        {
            "key": key,
            "watched": {str(path): _files(path) for path in watched},
            "first_logged_us": first_logged_us,
            "outcome": outcome,
        },
    )


def _still_holds(last: dict, key: str, since_seconds: float | None) -> bool:
    if last.get("key") != key or not Path(last["outcome"]["report"]).is_file():
        return False
    if any(_files(Path(path)) != files for path, files in last["watched"].items()):
        return False
    first = last["first_logged_us"]
    return since_seconds is None or first is None or (time.time() - since_seconds) * 1e6 <= first


def reused_outcome(settings: Settings, workspace: Workspace, since_seconds: float | None) -> dict | None:
    """The last outcome, when nothing it was computed from has changed since; recorded as a run of now.

    None when anything changed (or no run was remembered): then the monitor must compute.
    """
    path = _remembered(workspace)
    try:
        last = json.loads(path.read_text()) if path.is_file() else None
    except ValueError:  # a file cut short by a full disk: compute again, and remember anew
        last = None
    if last is None or not _still_holds(last, inputs_key(settings, workspace, since_seconds), since_seconds):
        return None
    outcome = {
        **last["outcome"],
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "reused_from": last["outcome"]["started"],
    }
    record_outcome(workspace, outcome)
    return outcome
