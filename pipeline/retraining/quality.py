"""`penguins retrain --when-quality-dips`: retrain when the served model's live accuracy dipped.

`penguins monitor` decides. On a dip, the labeled logged requests (their inputs as served and
their true class) become the next span through the normal ingest, and the normal retrain runs
on it: validation, the drift gate, the window, evaluation against the served model. A dip that
comes with a large shift may be blocked by the drift gate; that is meant, a person decides, and
the outcome says both.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition.split_check import require_every_split
from pipeline.intake.spans import DuplicateSpanError, ingest_source
from pipeline.monitoring.logged import INSTANCE, REQUEST_ID
from pipeline.monitoring.quality import LABEL, QUALITY_DIP
from pipeline.retraining.retrain import retrain
from pipeline.run.exit_codes import EXIT_DATA_REJECTED, EXIT_OK, CommandResult
from pipeline.run.run_options import RunOptions
from serving.store.atomic import write_json_atomically

QUALITY_DIP_TRIGGER = "quality dip"


def _write_span_source(labeled: pd.DataFrame, settings: Settings, path: Path) -> Path:
    """The labeled requests as a raw CSV in the config's columns: the true class, then the inputs."""
    spec = settings.features
    table = labeled.rename(columns={LABEL: spec.label})
    table[list(spec.columns)].to_csv(path, index=False, na_rep="")
    return path


def _keys(labeled: pd.DataFrame) -> list[tuple[str, int]]:
    return list(zip(labeled[REQUEST_ID], labeled[INSTANCE].map(int), strict=True))


def _already_ingested(workspace: Workspace) -> set[tuple[str, int]]:
    path = workspace.ingested_labels
    return (
        {(request_id, instance) for request_id, instance in json.loads(path.read_text())}
        if path.is_file()
        else set()
    )


def _new_only(labeled: pd.DataFrame, workspace: Workspace) -> pd.DataFrame:
    """The labeled requests that no earlier quality-dip span holds: each trains in one span only."""
    done = _already_ingested(workspace)
    return labeled[[key not in done for key in _keys(labeled)]]


def _remember_ingested(workspace: Workspace, labeled: pd.DataFrame) -> None:
    keys = sorted(_already_ingested(workspace) | set(_keys(labeled)))
    write_json_atomically(workspace.ingested_labels, [list(key) for key in keys])


def retrain_when_quality_dips(
    settings: Settings, workspace: Workspace, options: RunOptions, since_seconds: float | None, trigger: str
) -> CommandResult:
    """Monitors; on a dip, ingests the labeled requests as a span and retrains (the caller holds the lock)."""
    from pipeline.run.console import captured_output

    with captured_output(workspace.log_dir / "monitor.log"):  # TensorFlow's noise goes to the log
        from pipeline.monitoring.monitor import labeled_requests, monitor

        checked = monitor(settings, workspace, since_seconds)
        labeled = _new_only(labeled_requests(settings, workspace, since_seconds), workspace)
    found = {key: checked[key] for key in ("decision", "reason", "report", "requests", "labeled")}
    if checked["decision"] != QUALITY_DIP:
        print(f"No retrain: monitor decided {checked['decision']} ({checked['reason']}).")
        return CommandResult(EXIT_OK, {"retrained": False, "monitor": found})
    print(f"Quality dipped: {checked['reason']}.", flush=True)
    if labeled.empty:
        message = "No retrain: every labeled request is in a span already (an earlier quality-dip retrain)."
        print(message)
        return CommandResult(EXIT_OK, {"retrained": False, "monitor": found, "error": message})
    log = workspace.log_dir / "monitor.log"
    with tempfile.TemporaryDirectory() as scratch, captured_output(log) as terminal:
        # The split check imports TFX's ExampleGen, whose warnings go to the log.
        source = _write_span_source(labeled, settings, Path(scratch) / "labeled-requests.csv")
        try:
            span, _ = ingest_source(
                settings.features,
                workspace.spans,
                source,
                None,
                check_splits=functools.partial(require_every_split, settings),
            )
        except DuplicateSpanError as error:
            print(f"No retrain: the labeled requests hold nothing new ({error}).", file=terminal)
            return CommandResult(EXIT_OK, {"retrained": False, "monitor": found, "error": str(error)})
    _remember_ingested(workspace, labeled)
    print(f"  The {span.rows} labeled requests are span {span.number}; retraining on it.", flush=True)
    result = retrain(settings, workspace, options, trigger=trigger)
    result.outcome.update({"retrained": True, "monitor": found, "labeled_span": span.number})
    drifted = (result.outcome.get("run") or {}).get("drift_measurements") or []
    if result.exit_code == EXIT_DATA_REJECTED:
        why = result.outcome.get("rejection") or "the data checks rejected the span"
        over = [m["feature"] for m in drifted if m.get("drifted")]
        blocked = (
            f"drift blocked the retrain ({', '.join(over)})" if over else f"the retrain was refused: {why}"
        )
        message = f"Quality dipped AND {blocked}; a person decides (see `penguins retrain --accept-drift`)."
        print(message, file=sys.stderr)
        result.outcome["message"] = message
    return result
