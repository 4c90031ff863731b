"""The monitor runs as `penguins history` shows them, beside the pipeline runs from MLMD.

A monitor run trains and pushes nothing, so it is no TFX run; a line of JSON per run in the
workspace keeps MLMD to what the pipeline wrote. Plain JSON, so that history reads it without
TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.config.workspace import Workspace
from serving.store.atomic import write_json_atomically, write_text_atomically

_KEPT = (
    "kind",
    "started",
    "requests",
    "instances",
    "labeled",
    "served_version",
    "decision",
    "reason",
    "report",
    "reused_from",
)


def record_monitoring(history: Path, outcome: dict) -> None:
    """Adds a run; the file is rewritten whole and atomically, so it never holds half a line."""
    earlier = history.read_text() if history.is_file() else ""
    write_text_atomically(history, earlier + json.dumps({key: outcome[key] for key in _KEPT}) + "\n")


def record_outcome(workspace: Workspace, outcome: dict) -> None:
    """Where a monitor run's outcome goes: `latest.json`, which the server's metrics read, and history."""
    write_json_atomically(workspace.monitoring_results, outcome)
    record_monitoring(workspace.monitoring_history, outcome)


def monitoring_history(history: Path) -> list[dict]:
    """The recorded monitor runs, newest first."""
    if not history.is_file():
        return []
    return [json.loads(line) for line in reversed(history.read_text().splitlines()) if line.strip()]
