"""`penguins monitor`: how the served model does on live traffic, and whether to retrain.

Reads the logged requests of a time window, joins the late labels, and measures each served
version's live accuracy against the accuracy it was blessed with (MLMD), the served inputs'
skew against its training data (TFDV), and the predicted-class mix. The outcome is written
where the server's metrics read it, as an HTML report, and as a line of `penguins history`.
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pandas as pd

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.monitoring.history import record_outcome
from pipeline.monitoring.labels import stored_labels
from pipeline.monitoring.logged import INSTANCE, PREDICTED, REQUEST_ID, TIME_US, VERSION, logged_requests
from pipeline.monitoring.quality import LABEL, counted, decide, join_labels, version_quality
from pipeline.monitoring.report import write_monitor_report
from pipeline.monitoring.reuse import inputs_key, remember
from pipeline.monitoring.skew import class_mix, distributions, serving_statistics, skew, training_statistics
from pipeline.reporting.metadata import recorded_runs
from pipeline.reporting.versions import push_of, pushed_runs
from serving.store.model_config import served_version


def _pushed(settings: Settings, workspace: Workspace) -> dict:
    return pushed_runs(recorded_runs(settings, workspace))


def _joined(settings: Settings, workspace: Workspace, since_seconds: float | None) -> pd.DataFrame:
    since_us = None if since_seconds is None else int((time.time() - since_seconds) * 1e6)
    logged = logged_requests(workspace.request_log_dir, settings.features, since_us)
    return join_labels(logged, stored_labels(workspace.labels_dir, logged[REQUEST_ID]))


def labeled_requests(settings: Settings, workspace: Workspace, since_seconds: float | None) -> pd.DataFrame:
    """The logged instances of the window that have a label: inputs as served, prediction, true class."""
    joined = _joined(settings, workspace, since_seconds)
    return joined[joined[LABEL].notna()][[REQUEST_ID, INSTANCE, *settings.features.inputs, PREDICTED, LABEL]]


def monitor(settings: Settings, workspace: Workspace, since_seconds: float | None) -> dict:
    """The monitoring outcome, as `penguins monitor --json` prints it; also written and recorded."""
    spec = settings.features
    started = datetime.datetime.now()  # local time, as `penguins history` shows the runs
    key = inputs_key(settings, workspace, since_seconds)  # before reading: a later change is new
    joined = _joined(settings, workspace, since_seconds)
    pushed = _pushed(settings, workspace)
    model_dir = workspace.model_dir(settings.model_name)
    logged_versions = joined[VERSION].unique().tolist()
    origins = {int(v): push_of(model_dir, int(v), pushed) for v in logged_versions}
    versions = version_quality(
        joined,
        settings.evaluation.slices,
        {version: push.accuracy for version, push in origins.items() if push is not None},
    )
    served = served_version(workspace.serving_root, settings.model_name)
    if served is None and versions:
        served = versions[0]["version"]
    current = next((entry for entry in versions if entry["version"] == served), None)

    served_rows = joined[joined[VERSION] == served]
    origin = origins.get(served) if served is not None else None
    statistics = origin.record.output(node_ids.STATISTICS_GEN, "statistics") if origin else None
    training = training_statistics(statistics.uri) if statistics is not None else None
    skewed = []
    if training is not None and len(served_rows):
        skewed = skew(training, serving_statistics(served_rows[list(spec.inputs)]), settings.require_schema())
    decision, reason = decide(
        current or {"version": served, "n": 0},
        [m["feature"] for m in skewed if m["over"]],
        settings.monitoring,
    )
    outcome = {
        "kind": "monitor",
        "started": started.isoformat(timespec="seconds"),
        "window_seconds": since_seconds,
        **counted(joined),
        "labeled": int(joined[LABEL].notna().sum()),
        "served_version": served,
        "versions": versions,
        "skew": skewed,
        "class_mix": class_mix(training, served_rows[PREDICTED], spec),
        "decision": decision,
        "reason": reason,
        "reused_from": None,
    }
    report = workspace.root / "reports" / f"monitor-{started:%Y%m%d-%H%M%S}.html"
    outcome["report"] = str(report)
    write_monitor_report(report, outcome, joined, distributions(training, spec), spec)
    record_outcome(workspace, outcome)
    first_logged_us = int(joined[TIME_US].min()) if since_seconds is not None and len(joined) else None
    statistics_path = [Path(statistics.uri)] if statistics is not None else []
    remember(workspace, key, statistics_path, first_logged_us, outcome)
    return outcome
