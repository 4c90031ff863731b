"""Reads what a pipeline run recorded in ML Metadata (MLMD).

MLMD is the source of truth for runs: which components executed or were cached, and which
artifacts each produced. Reports read it rather than guessing paths under the pipeline root.
"""

from __future__ import annotations

import dataclasses

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.metadata.store import open_store, store_exists

PIPELINE_CONTEXT = "pipeline"
RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
# Properties this project adds to executions that it settles itself (pipeline/run/abandoned.py).
ABANDONED_KEY = "abandoned"
INTERRUPTED_KEY = "interrupted"


@dataclasses.dataclass
class RunRecord:
    """One pipeline run: its id, start time, and each node's outputs by output key."""

    run_id: str
    started_ms: int
    outputs: dict[tuple[str, str], list[metadata_store_pb2.Artifact]]
    states: dict[str, str]  # node id -> COMPLETE, CACHED, FAILED, ...
    properties: dict[str, dict]  # node id -> execution properties

    def output(self, node_id: str, key: str) -> metadata_store_pb2.Artifact | None:
        artifacts = self.outputs.get((node_id, key))
        return artifacts[-1] if artifacts else None

    def all_outputs(self, node_id: str, key: str) -> list[metadata_store_pb2.Artifact]:
        return self.outputs.get((node_id, key), [])


def recorded_runs(settings: Settings, workspace: Workspace, limit: int | None = None) -> list[RunRecord]:
    """The pipeline's newest `limit` runs (all, without one) in the store the workspace uses, newest
    first; none before the first run."""
    location = settings.metadata_location(workspace)
    return pipeline_runs(open_store(location), settings.name, limit) if store_exists(location) else []


def newest_run(settings: Settings, workspace: Workspace) -> RunRecord | None:
    runs = recorded_runs(settings, workspace, limit=1)
    return runs[0] if runs else None


def pipeline_runs(
    store: metadata_store.MetadataStore, pipeline_name: str, limit: int | None = None
) -> list[RunRecord]:
    """The pipeline's newest `limit` runs (all, without one), newest first.

    Read in a number of queries that does not grow with the runs' executions: one per node of the
    pipeline, one per run read, and a few for all of them. Asking each execution for its contexts
    instead took one query per component per run, all runs read to report the newest.
    """
    pipeline = store.get_context_by_type_and_name(PIPELINE_CONTEXT, pipeline_name)
    if pipeline is None:
        return []
    node_of_execution = _node_ids(store, pipeline_name, pipeline)
    runs = sorted(
        store.get_contexts_by_type(RUN_CONTEXT), key=lambda run: run.create_time_since_epoch, reverse=True
    )
    executions_by_run = []
    for run in runs:
        if limit is not None and len(executions_by_run) == limit:
            break
        executions = [e for e in store.get_executions_by_context(run.id) if e.id in node_of_execution]
        if executions:
            executions_by_run.append((run, executions))
    run_of_execution = {e.id: run.id for run, executions in executions_by_run for e in executions}
    outputs = _outputs(store, node_of_execution, run_of_execution)
    return [
        RunRecord(
            run_id=run.name,
            started_ms=run.create_time_since_epoch,
            outputs=outputs.get(run.id, {}),
            states={node_of_execution[e.id]: _STATES.Name(e.last_known_state) for e in executions},
            properties={
                node_of_execution[e.id]: {k: _plain(v) for k, v in e.custom_properties.items()}
                for e in executions
            },
        )
        for run, executions in executions_by_run
    ]


_STATES = metadata_store_pb2.Execution.State
_OUTPUT_EVENTS = (
    metadata_store_pb2.Event.OUTPUT,
    metadata_store_pb2.Event.DECLARED_OUTPUT,
    metadata_store_pb2.Event.INTERNAL_OUTPUT,
)


def _node_ids(store, pipeline_name: str, pipeline: metadata_store_pb2.Context) -> dict[int, str]:
    """Execution id -> node id, for every execution of the pipeline: one query per node."""
    executions = {e.id for e in store.get_executions_by_context(pipeline.id)}
    node_of_execution = {}
    for node in store.get_contexts_by_type(NODE_CONTEXT):
        if node.name.startswith(f"{pipeline_name}."):
            node_id = node.name.removeprefix(f"{pipeline_name}.")
            for execution in store.get_executions_by_context(node.id):
                if execution.id in executions:
                    node_of_execution[execution.id] = node_id
    return node_of_execution


def _outputs(store, node_of_execution: dict[int, str], run_of_execution: dict[int, int]) -> dict:
    """Run context id -> what its executions output, by (node id, output key): two queries for all runs."""
    if not run_of_execution:
        return {}
    events = [
        event
        for event in store.get_events_by_execution_ids(list(run_of_execution))
        # Resolvers publish what they resolved as INTERNAL_OUTPUT.
        if event.type in _OUTPUT_EVENTS
    ]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    outputs: dict[int, dict[tuple[str, str], list]] = {}
    for event in events:
        run_outputs = outputs.setdefault(run_of_execution[event.execution_id], {})
        key = (node_of_execution[event.execution_id], event.path.steps[0].key)
        run_outputs.setdefault(key, []).append(artifacts[event.artifact_id])
    return outputs


def _plain(value: metadata_store_pb2.Value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def custom_property(artifact: metadata_store_pb2.Artifact | None, name: str):
    """A custom property's plain value, or None when the artifact or property is absent."""
    if artifact is None or name not in artifact.custom_properties:
        return None
    return _plain(artifact.custom_properties[name])


def processed_spans(store: metadata_store.MetadataStore, pipeline_name: str, node_id: str) -> set[int]:
    """Spans that the ExampleGen `node_id` has turned into Examples, in any run."""
    node = store.get_context_by_type_and_name(NODE_CONTEXT, f"{pipeline_name}.{node_id}")
    if node is None:
        return set()
    return {
        artifact.custom_properties["span"].int_value
        for artifact in store.get_artifacts_by_context(node.id)
        if artifact.state == metadata_store_pb2.Artifact.LIVE and "span" in artifact.custom_properties
    }
