"""`penguins history`: the runs recorded in MLMD, newest first, with what each one decided."""

from __future__ import annotations

import dataclasses
import datetime

from pipeline.metadata import RunRecord
from pipeline.summary import summarize

_DONE = {"COMPLETE", "CACHED"}
GATE = "ValidationGate"


def _validation(record: RunRecord) -> str:
    state = record.states.get(GATE)
    if state in _DONE:
        return "passed"
    if state == "FAILED":
        return "rejected"
    return "not reached"


def _status(record: RunRecord) -> str:
    failed = sorted(node for node, state in record.states.items() if state not in _DONE)
    return "completed" if not failed else f"failed at {', '.join(failed)}"


def history_entry(record: RunRecord) -> dict:
    summary = summarize(record)
    return {
        "run_id": record.run_id,
        "started": datetime.datetime.fromtimestamp(record.started_ms / 1000).isoformat(timespec="seconds"),
        "status": _status(record),
        "data": record.properties.get("CsvExampleGen", {}).get("input_base"),
        "examples": summary.examples_by_split,
        "validation": _validation(record),
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
        for item in entry["accuracy"]:
            if item["name"] != "overall":
                baseline = f" (served {_number(item['baseline'])})" if item["baseline"] is not None else ""
                lines.append(f"    {item['name']:<22} {_number(item['candidate'])}{baseline}")
        lines.extend(f"    not blessed: {reason}" for reason in entry["not_blessed_because"])
    return lines
