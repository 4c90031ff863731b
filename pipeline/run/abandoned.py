"""Runs whose process died without a word (`kill -9`, a lost machine) are settled by the next run.

TFX records an execution as RUNNING when it starts and as COMPLETE or FAILED when it ends; a
process killed in between leaves it RUNNING for ever, with its half-written output folders on
disk. Only the holder of the workspace lock runs a pipeline, so when the next `run` or `retrain`
holds the lock, any execution still RUNNING belongs to a dead process: it is marked CANCELED with
an `abandoned` note, and its output folders are removed. A run stopped by a signal settles its
own executions the same way at once, as FAILED with an `interrupted` note.
"""

from __future__ import annotations

import dataclasses
import datetime
import shutil
from pathlib import Path

from ml_metadata.proto import metadata_store_pb2

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.metadata.store import open_store, store_exists
from pipeline.reporting.metadata import (
    ABANDONED_KEY,
    INTERRUPTED_KEY,
    NODE_CONTEXT,
    PIPELINE_CONTEXT,
    RUN_CONTEXT,
)

_RUNNING = metadata_store_pb2.Execution.RUNNING


@dataclasses.dataclass(frozen=True)
class AbandonedExecution:
    run_id: str
    node_id: str
    removed_folders: int


def _partial_outputs(pipeline_root: Path, node_id: str, execution_id: int) -> list[Path]:
    """TFX writes an execution's outputs to <root>/<node>/<output key>/<execution id> (and .system/*/<id>)."""
    node_dir = pipeline_root / node_id
    found = [*node_dir.glob(f"*/{execution_id}"), *node_dir.glob(f".system/*/{execution_id}")]
    return [path for path in found if path.is_dir()]


def settle_abandoned(settings: Settings, workspace: Workspace) -> list[AbandonedExecution]:
    """Marks executions left RUNNING as abandoned and removes their outputs; call only under the lock."""
    noted = datetime.datetime.now().isoformat(timespec="seconds")
    return _settle_running(
        settings,
        workspace,
        metadata_store_pb2.Execution.CANCELED,
        ABANDONED_KEY,
        f"its process ended without finishing; found by the run started at {noted}",
    )


def fail_interrupted(settings: Settings, workspace: Workspace, why: str) -> list[AbandonedExecution]:
    """Marks this run's executions still RUNNING as FAILED, after a stop signal; call under the lock.

    TFX records FAILED itself when the signal lands inside a component's executor; landing just
    before or after it, between TFX's bookkeeping steps, it would leave the execution RUNNING.
    """
    failed = metadata_store_pb2.Execution.FAILED
    return _settle_running(settings, workspace, failed, INTERRUPTED_KEY, why)


def _settle_running(
    settings: Settings, workspace: Workspace, state, key: str, note: str
) -> list[AbandonedExecution]:
    location = settings.metadata_location(workspace)
    if not store_exists(location):
        return []
    pipeline_name = settings.name
    store = open_store(location, read_only=False)
    pipeline = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name)
    if pipeline is None:
        return []
    settled = []
    for execution in store.get_executions_by_context(pipeline.id):
        if execution.last_known_state != _RUNNING:
            continue
        contexts = store.get_contexts_by_execution(execution.id)
        node_id = next(c.name for c in contexts if c.type == NODE_CONTEXT).removeprefix(f"{pipeline_name}.")
        run_id = next((c.name for c in contexts if c.type == RUN_CONTEXT), "unknown")
        execution.last_known_state = state
        execution.custom_properties[key].string_value = note
        store.put_executions([execution])
        folders = _partial_outputs(workspace.pipeline_root, node_id, execution.id)
        for folder in folders:
            shutil.rmtree(folder)
        settled.append(AbandonedExecution(run_id, node_id, len(folders)))
    return settled


def settle_abandoned_runs(settings: Settings, workspace: Workspace) -> None:
    """Settles abandoned executions and says so, once: a settled execution is not found again."""
    for each in settle_abandoned(settings, workspace):
        print(
            f"  Note: run {each.run_id} stopped without finishing while {each.node_id} ran (its process is "
            f"gone); marked abandoned in the metadata store, {each.removed_folders} partial output "
            "folder(s) removed.",
            flush=True,
        )
