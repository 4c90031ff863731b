"""`penguins history`: the runs recorded in MLMD, newest first, with what each one decided."""

from __future__ import annotations

import dataclasses
import datetime

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.reporting.metadata import ABANDONED_KEY, RunRecord, recorded_runs
from pipeline.reporting.summary import RunSummary, summarize
from pipeline.reporting.triggers import retrain_triggers

_DONE = {"COMPLETE", "CACHED"}
# A retrain that only read a span which arrived between retrains (see pipeline/retraining/retrain.py).
_SPAN_READING_NODES = {node_ids.SPAN_EXAMPLE_GEN, node_ids.STATISTICS_GEN}


def _validation(summary: RunSummary) -> str:
    if summary.anomalies is None:
        return "not reached"
    return f"{len(summary.anomalies)} anomalies" if summary.anomalies else "passed"


def _drift(summary: RunSummary) -> str:
    if summary.newest_span is None:
        return "n/a"
    if summary.drift_against_span is None:
        return "not checked (first span)"
    if not summary.drifted:
        return f"none vs span {summary.drift_against_span}"
    found = ", ".join(f"{m['feature']} {m['value']} > {m['threshold']}" for m in summary.drifted)
    return f"DRIFT vs span {summary.drift_against_span}: {found}"


def _status(record: RunRecord, summary: RunSummary, alive: bool) -> str:
    unfinished = sorted(node for node, state in record.states.items() if state == "RUNNING")
    if unfinished:
        where = ", ".join(unfinished)
        return f"running ({where})" if alive else f"stopped without finishing at {where}"
    abandoned = sorted(node for node, properties in record.properties.items() if ABANDONED_KEY in properties)
    if abandoned:
        return f"stopped without finishing at {', '.join(abandoned)}"
    if set(record.states) == _SPAN_READING_NODES:
        return f"read span {summary.newest_span} for later windows"
    failed = sorted(node for node, state in record.states.items() if state not in _DONE)
    if failed == [node_ids.VALIDATION_GATE]:
        return "data rejected"
    return "completed" if not failed else f"failed at {', '.join(failed)}"


def _started(record: RunRecord) -> str:
    """When the run started, as its id says (TFX names a run by its start time), to the second."""
    try:
        started = datetime.datetime.fromisoformat(record.run_id)
    except ValueError:
        started = datetime.datetime.fromtimestamp(record.started_ms / 1000)
    return started.isoformat(timespec="seconds")


def history_entry(record: RunRecord, summary: RunSummary | None = None, alive: bool = False) -> dict:
    """The run as history shows it; `alive` when its process still holds the workspace."""
    summary = summary or summarize(record)
    return {
        "run_id": record.run_id,
        "started": _started(record),
        "status": _status(record, summary, alive),
        "data": record.properties.get(node_ids.EXAMPLE_GEN, {}).get("input_base"),
        "newest_span": summary.newest_span,
        "spans": summary.spans,
        "examples": summary.examples_by_split,
        "validation": _validation(summary),
        "drift": _drift(summary),
        "drift_measurements": summary.drift,
        "accuracy": [dataclasses.asdict(item) for item in summary.accuracy],
        # Null when accuracy is over the whole eval split.
        "evaluated_sample": dataclasses.asdict(summary.sample) if summary.sample else None,
        "span_accuracy": summary.span_accuracy,
        "earlier_accuracy": summary.earlier_accuracy,
        "blessed": summary.blessed,
        "not_blessed_because": summary.reasons,
        "pushed_version": summary.pushed_version,
        "already_served": summary.already_served,
        "rolled_back": summary.rolled_back,
    }


def recorded_history(
    settings: Settings, workspace: Workspace, limit: int, run_in_progress: bool
) -> list[dict]:
    """The newest `limit` runs as history entries; `run_in_progress` when a run or retrain holds the lock."""
    records = recorded_runs(settings, workspace, limit)
    # The lock names the process of a run going on now: the newest run with a RUNNING component.
    live_run = (
        next((r.run_id for r in records if "RUNNING" in r.states.values()), None) if run_in_progress else None
    )
    triggers = retrain_triggers(workspace)
    return [
        {**history_entry(record, alive=record.run_id == live_run), "trigger": triggers.get(record.run_id)}
        for record in records
    ]
