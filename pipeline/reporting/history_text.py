"""`penguins history` as text, from the entries that pipeline/reporting/history.py reads out of MLMD.

Apart from the reading, so that commands that only show a stored entry (an up-to-date run) need
no TensorFlow.
"""

from __future__ import annotations


def _number(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def _span_text(entry: dict) -> str:
    served = f" (served model {_number(entry['served'])})" if entry["served"] is not None else ""
    return f"{_number(entry['candidate'])}{served}  n={entry['examples']}"


def span_accuracy_rows(spans: list[dict], earlier: dict | None) -> list[tuple[str, str]]:
    """(name, accuracies) per span the span gate measured, and for the earlier spans together."""
    rows = [(f"span {entry['span']} ({entry['role']})", _span_text(entry)) for entry in spans]
    if earlier and len(spans) > 2:
        rows.append(("earlier spans together", _span_text(earlier)))
    return rows


def _pushed(entry: dict) -> str:
    if entry["already_served"]:
        return "already served"
    if entry["pushed_version"]:
        return f"pushed {entry['pushed_version']}"
    if entry.get("rolled_back"):
        return "rolled back earlier, not pushed"
    return "nothing pushed"


def _monitored(entry: dict) -> str:
    """What a monitor run looked at. Runs recorded before `instances` was kept counted instances as
    `requests`, so theirs is shown as the instance count it is."""
    if "instances" not in entry:
        return f"{entry['requests']} instances"
    return f"{entry['requests']} requests of {entry['instances']} instances"


def format_history(entries: list[dict]) -> list[str]:
    lines = []
    for entry in entries:
        if entry.get("kind") == "monitor":
            lines.append(
                f"{entry['started']}  monitor     {entry['decision']}: {entry['reason']} "
                f"({_monitored(entry)}, {entry['labeled']} labeled"
                + (f"; nothing new since {entry['reused_from']})" if entry.get("reused_from") else ")")
            )
            continue
        if entry["status"].startswith("read span"):
            lines.append(f"{entry['started']}  {entry['status']}")
            continue
        overall = next((a for a in entry["accuracy"] if a["name"] == "overall"), None)
        blessed = {True: "blessed", False: "not blessed", None: "not evaluated"}[entry["blessed"]]
        pushed = _pushed(entry)
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
        if entry.get("trigger"):
            lines.append(f"    triggered by: {entry['trigger']}")
        sample = entry["evaluated_sample"]
        if sample:
            lines.append(f"    evaluated on a sample of {sample['examples']} of {sample['of']} eval examples")
        for name, text in span_accuracy_rows(entry.get("span_accuracy", []), entry.get("earlier_accuracy")):
            lines.append(f"    {name:<22} {text}")
        for item in entry["accuracy"]:
            if item["name"] != "overall":
                baseline = f" (served {_number(item['baseline'])})" if item["baseline"] is not None else ""
                lines.append(f"    {item['name']:<22} {_number(item['candidate'])}{baseline}")
        lines.extend(f"    not blessed: {reason}" for reason in entry["not_blessed_because"])
    return lines
