"""What started each retrain run: a person's command, the schedule, new data, or a quality dip.

MLMD records what a run did, not why it ran; the reason is kept beside it, by run id, for
`penguins history`. Plain JSON, so that the retrain command can write it without TensorFlow.
"""

from __future__ import annotations

import json

from pipeline.config.workspace import Workspace
from serving.store.atomic import write_json_atomically


def retrain_triggers(workspace: Workspace) -> dict[str, str]:
    path = workspace.retrain_triggers
    return json.loads(path.read_text()) if path.is_file() else {}


def remember_trigger(workspace: Workspace, run_id: str, trigger: str) -> None:
    write_json_atomically(workspace.retrain_triggers, {**retrain_triggers(workspace), run_id: trigger})
