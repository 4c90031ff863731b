"""The production loop end to end: a real TFX run, a real `penguins serve` on loopback, real
requests, late labels, `penguins monitor`, and `penguins retrain --when-quality-dips`.

One trained workspace is shared; each scenario serves it from its own copy, so the request log
and labels of one never reach another.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest

from pipeline.run.exit_codes import EXIT_DATA_REJECTED, EXIT_OK
from serving.client import PredictionClient
from tests.helpers import RunningServer, bundled_rows, penguins, write_rows
from tests.test_metrics import scrape, value

NUMERIC = ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g")
BATCH = 25

pytestmark = pytest.mark.e2e


def _bird(row: dict, bill_depth_shift: float = 0.0) -> dict:
    bird = {name: math.nan if row[name] == "NA" else float(row[name]) for name in NUMERIC}
    bird["bill_depth_mm"] += bill_depth_shift
    bird.update(island=row["island"], sex="" if row["sex"] == "NA" else row["sex"])
    return bird


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    workspace = tmp_path_factory.mktemp("trained")
    result = penguins(
        "run", "--workspace", str(workspace), env={"TMPDIR": str(tmp_path_factory.mktemp("tmp"))}
    )
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    return workspace


def _serve_and_label(trained, tmp_path, rows: list[dict], shift: float, labeled: int | None = None):
    """A copy of the trained workspace that served `rows` (bill depth shifted) and got their true species."""
    workspace = tmp_path / "workspace"
    shutil.copytree(trained, workspace)
    server = RunningServer(workspace)
    labels = []
    try:
        with PredictionClient(server.rest, "rest") as client:
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                request_id = f"req-{start}"
                client.predict([_bird(row, shift) for row in batch], request_id=request_id)
                labels += [
                    {"request_id": request_id, "instance": i, "species": row["species"]}
                    for i, row in enumerate(batch)
                ]
    finally:
        assert server.stop() == 0
    source = write_rows(tmp_path / "labels.csv", labels[:labeled], ["request_id", "instance", "species"])
    added = penguins("labels", "add", "--source", str(source), "--workspace", str(workspace), "--json")
    assert added.returncode == EXIT_OK, added.stderr
    assert json.loads(added.stdout)["unknown"] == 0
    return workspace


def _monitor(workspace) -> dict:
    result = penguins("monitor", "--workspace", str(workspace), "--json")
    assert result.returncode == EXIT_OK, result.stderr
    outcome = json.loads(result.stdout)
    assert (
        json.loads((workspace / "monitoring" / "latest.json").read_text())["decision"] == outcome["decision"]
    )
    return outcome


def test_shallower_bills_dip_quality_show_skew_and_trigger_a_retrain(trained, tmp_path):
    rows = bundled_rows()
    workspace = _serve_and_label(trained, tmp_path, rows, shift=-3.5)
    outcome = _monitor(workspace)
    assert (outcome["requests"], outcome["instances"], outcome["labeled"]) == (
        math.ceil(len(rows) / BATCH),
        len(rows),
        len(rows),
    )
    (version,) = outcome["versions"]
    assert version["n"] == len(rows)
    assert version["live_accuracy"] < version["blessed_accuracy"] - 0.05, version
    assert outcome["decision"] == "quality_dip", outcome["reason"]
    skewed = {m["feature"] for m in outcome["skew"] if m["over"]}
    assert "bill_depth_mm" in skewed, outcome["skew"]
    report = next((workspace / "reports").glob("monitor-*.html")).read_text()
    assert report.count("<svg") >= 3 and "quality_dip" in report

    penguins("ingest", "--bundled", "--workspace", str(workspace))  # the span the new one is compared with
    result = penguins("retrain", "--when-quality-dips", "--workspace", str(workspace), "--json")
    retrained = json.loads(result.stdout)
    assert retrained["retrained"] is True and retrained["labeled_span"] == 2, result.stderr
    assert "Quality dipped" in result.stderr
    if result.returncode == EXIT_DATA_REJECTED:  # the shift is large: the drift gate may hold it back
        assert "Quality dipped AND drift blocked the retrain" in result.stderr
    else:
        assert result.returncode == EXIT_OK, result.stderr

    again = penguins("retrain", "--when-quality-dips", "--workspace", str(workspace), "--json")
    assert again.returncode == EXIT_OK and json.loads(again.stdout)["retrained"] is False
    assert "every labeled request is in a span already" in again.stdout + again.stderr

    history = penguins("history", "--workspace", str(workspace), "--json")
    entries = json.loads(history.stdout)
    assert any(e.get("kind") == "monitor" and e["decision"] == "quality_dip" for e in entries)
    assert any(e.get("trigger") == "quality dip" for e in entries), entries
    text = penguins("history", "--workspace", str(workspace)).stdout
    assert "monitor     quality_dip" in text and "triggered by: quality dip" in text


def test_one_healthy_year_is_ok_and_no_retrain_runs(trained, tmp_path):
    rows = [row for row in bundled_rows() if row["year"] == "2008"]
    workspace = _serve_and_label(trained, tmp_path, rows, shift=0.0)
    outcome = _monitor(workspace)
    assert outcome["decision"] == "ok", outcome
    assert not [m for m in outcome["skew"] if m["over"]]
    (version,) = outcome["versions"]
    low, high = version["ci95"]
    assert low <= version["live_accuracy"] <= high and version["n"] == len(rows)
    assert {s["slice"].split("=")[0] for s in version["slices"]} == {"island", "sex"}

    # The server's metrics page shows what this monitor run decided and measured.
    server = RunningServer(workspace)
    try:
        samples = scrape(server.rest)
    finally:
        assert server.stop() == 0
    live = value(samples, "penguins_live_accuracy", version=str(version["version"]))
    assert live == pytest.approx(version["live_accuracy"])
    assert value(samples, "penguins_monitoring_decision", decision="ok") == 1

    result = penguins("retrain", "--when-quality-dips", "--workspace", str(workspace), "--json")
    assert result.returncode == EXIT_OK, result.stderr
    assert json.loads(result.stdout)["retrained"] is False
    assert "No retrain: monitor decided ok" in result.stderr
    assert not (workspace / "data" / "spans").exists()


def test_too_few_labels_is_not_enough_labels(trained, tmp_path):
    rows = [row for row in bundled_rows() if row["year"] == "2009"]
    workspace = _serve_and_label(trained, tmp_path, rows, shift=0.0, labeled=10)
    outcome = _monitor(workspace)
    assert outcome["decision"] == "not_enough_labels", outcome
    assert (outcome["requests"], outcome["instances"], outcome["labeled"]) == (
        math.ceil(len(rows) / BATCH),
        len(rows),
        10,
    )
    assert "fewer than monitoring.min_labeled 50" in outcome["reason"]
