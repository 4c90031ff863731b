"""`penguins history`: the runs recorded in MLMD, newest first, with what each one decided."""

from __future__ import annotations

import dataclasses
import datetime

from components.validation_gate import describe_anomalies
from pipeline import node_ids
from pipeline.metadata import RunRecord
from pipeline.summary import RunSummary, summarize

_DONE = {"COMPLETE", "CACHED"}
# A retrain that only read a span which arrived between retrains (see pipeline/retraining.py).
_SPAN_READING_NODES = {node_ids.SPAN_EXAMPLE_GEN, node_ids.STATISTICS_GEN}


def _validation(record: RunRecord) -> str:
    anomalies = record.output(node_ids.EXAMPLE_VALIDATOR, "anomalies")
    if anomalies is None:
        return "not reached"
    problems = describe_anomalies(anomalies.uri, ["train", "eval"])
    return f"{len(problems)} anomalies" if problems else "passed"


def _drift(summary: RunSummary) -> str:
    if summary.newest_span is None:
        return "n/a"
    if summary.drift_against_span is None:
        return "not checked (first span)"
    if not summary.drifted:
        return f"none vs span {summary.drift_against_span}"
    found = ", ".join(f"{m['feature']} {m['value']} > {m['threshold']}" for m in summary.drifted)
    return f"DRIFT vs span {summary.drift_against_span}: {found}"


def _status(record: RunRecord, summary: RunSummary) -> str:
    if set(record.states) == _SPAN_READING_NODES:
        return f"read span {summary.newest_span} for later windows"
    failed = sorted(node for node, state in record.states.items() if state not in _DONE)
    if failed == [node_ids.VALIDATION_GATE]:
        return "data rejected"
    return "completed" if not failed else f"failed at {', '.join(failed)}"


def history_entry(record: RunRecord) -> dict:
    summary = summarize(record)
    return {
        "run_id": record.run_id,
        "started": datetime.datetime.fromtimestamp(record.started_ms / 1000).isoformat(timespec="seconds"),
        "status": _status(record, summary),
        "data": record.properties.get(node_ids.EXAMPLE_GEN, {}).get("input_base"),
        "newest_span": summary.newest_span,
        "spans": summary.spans,
        "examples": summary.examples_by_split,
        "validation": _validation(record),
        "drift": _drift(summary),
        "drift_measurements": summary.drift,
        "accuracy": [dataclasses.asdict(item) for item in summary.accuracy],
        "blessed": summary.blessed,
        "not_blessed_because": summary.reasons,
        "pushed_version": summary.pushed_version,
        "already_served": summary.already_served,
    }


def _number(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def format_history(entries: list[dict]) -> list[str]:
    lines = []
    for entry in entries:
        if entry["status"].startswith("read span"):
            lines.append(f"{entry['started']}  {entry['status']}")
            continue
        overall = next((a for a in entry["accuracy"] if a["name"] == "overall"), None)
        blessed = {True: "blessed", False: "not blessed", None: "not evaluated"}[entry["blessed"]]
        pushed = (
            f"pushed {entry['pushed_version']}"
            if entry["pushed_version"] and not entry["already_served"]
            else "already served"
            if entry["already_served"]
            else "nothing pushed"
        )
        accuracy = ""
        if overall:
            accuracy = f"accuracy {_number(overall['candidate'])}"
            if overall["baseline"] is not None:
                accuracy += f" (served {_number(overall['baseline'])})"
        lines.append(
            f"{entry['started']}  {entry['status']:<10}  data {entry['validation']:<8}  "
            f"{accuracy}  {blessed}, {pushed}".rstrip()
        )
        if entry["newest_span"] is not None:
            trained = f"; trained on spans {', '.join(map(str, entry['spans']))}" if entry["spans"] else ""
            lines.append(f"    span {entry['newest_span']}{trained}; drift: {entry['drift']}")
        for item in entry["accuracy"]:
            if item["name"] != "overall":
                baseline = f" (served {_number(item['baseline'])})" if item["baseline"] is not None else ""
                lines.append(f"    {item['name']:<22} {_number(item['candidate'])}{baseline}")
        lines.extend(f"    not blessed: {reason}" for reason in entry["not_blessed_because"])
    return lines
