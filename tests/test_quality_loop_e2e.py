"""The production loop end to end: a real TFX run, a real `penguins serve` on loopback, real
requests, late labels, `penguins monitor`, and `penguins retrain --when-quality-dips`.

One trained workspace is shared; each scenario serves it from its own copy, so the request log
and labels of one never reach another.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.retraining.schedule import describe_outcome
from pipeline.run.exit_codes import EXIT_OK, EXIT_WAITING_FOR_REVIEW
from serving.client import PredictionClient
from tests.helpers import RunningServer, bundled_rows, config_with_own_schema, penguins, write_rows
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


def _retrain_on_dip(workspace, config, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    result = penguins(
        "retrain",
        "--when-quality-dips",
        "--workspace",
        str(workspace),
        "--config",
        str(config),
        "--json",
        *args,
    )
    return result, json.loads(result.stdout)


def _runs(workspace) -> list[dict]:
    history = penguins("history", "--workspace", str(workspace), "--json")
    return [entry for entry in json.loads(history.stdout) if entry.get("kind") != "monitor"]


def _served(workspace) -> int:
    return json.loads(penguins("monitor", "--workspace", str(workspace), "--json").stdout)["served_version"]


@pytest.mark.one_stack
def test_shallower_bills_dip_quality_and_the_loop_waits_for_a_schema_review_keeping_the_labels(
    trained, tmp_path
):
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
    config = config_with_own_schema(tmp_path)[0]
    served = outcome["served_version"]

    # Bill depths below the schema's range: refused; the loop waits for a person and says how to go on.
    refused, waiting = _retrain_on_dip(workspace, config)
    assert refused.returncode == EXIT_WAITING_FOR_REVIEW, refused.stderr
    assert waiting["status"] == "waiting_for_review" and waiting["labeled_span"] == 1
    assert "Quality dipped AND the schema refused span 1 (feature 'bill_depth_mm'" in waiting["message"]
    assert "`penguins schema review --span 1`" in waiting["message"]
    assert describe_outcome(refused.stdout) == waiting["message"]  # the schedule's log line
    # The data `penguins run` trained the served model on is span 0, and the feedback is compared with it.
    span_zero = json.loads((workspace / "data" / "spans" / "span-0" / "ingested.json").read_text())
    assert span_zero["source"].startswith("penguins run ") and span_zero["rows"] == len(rows)
    assert waiting["run"]["drift"].startswith("DRIFT vs span 0"), waiting["run"]["drift"]
    assert not (workspace / "monitoring" / "ingested_labels.json").exists(), "refused labels were used up"

    # Nothing changed: the next attempt waits at once, without another pipeline run.
    runs = len(_runs(workspace))
    again, still = _retrain_on_dip(workspace, config)
    assert again.returncode == EXIT_WAITING_FOR_REVIEW and still["retrained"] is False
    assert "Nothing changed since" in still["message"] and len(_runs(workspace)) == runs

    # A person accepts the new range into the schema, and the drift: the loop goes on with the same labels.
    reviewed = penguins(
        "schema", "review", "--span", "1", "--accept", "--workspace", str(workspace), "--config", str(config)
    )
    assert reviewed.returncode == EXIT_OK, reviewed.stderr
    result, retrained = _retrain_on_dip(workspace, config, "--accept-drift")
    assert result.returncode == EXIT_OK, result.stderr
    run = retrained["run"]
    assert run["spans"] == [0, 1] and retrained["labeled_span"] == 1
    old, new = run["span_accuracy"]
    assert (old["span"], old["role"], new["span"], new["role"]) == (0, "earlier", 1, "new")
    # Span 0 is the served model's own data: its eval split is the one it was blessed on.
    assert old["examples"] == 83 and old["served"] == pytest.approx(version["blessed_accuracy"])
    assert "Per span:  span 0 (earlier)" in result.stderr
    if run["pushed_version"]:
        assert old["candidate"] >= old["served"] and new["candidate"] > new["served"], run
        assert _served(workspace) == int(run["pushed_version"])
    else:
        assert _served(workspace) == served, run["not_blessed_because"]
    assert json.loads((workspace / "monitoring" / "ingested_labels.json").read_text()), (
        "accepted labels count"
    )

    after, nothing_new = _retrain_on_dip(workspace, config)
    assert after.returncode == EXIT_OK and nothing_new["retrained"] is False
    if not run["pushed_version"]:  # the same version is served, its dip persists, with no label left
        assert "every labeled request is in a span that a retrain trained on" in nothing_new["message"]
    entries = json.loads(penguins("history", "--workspace", str(workspace), "--json").stdout)
    assert any(e.get("kind") == "monitor" and e["decision"] == "quality_dip" for e in entries)
    assert any(e.get("trigger") == "quality dip" for e in entries), entries
    text = penguins("history", "--workspace", str(workspace)).stdout
    assert "monitor     quality_dip" in text and "triggered by: quality dip" in text
    assert "span 0 (earlier)" in text


def test_a_candidate_that_wins_on_the_feedback_but_loses_on_the_old_data_is_not_pushed(trained, tmp_path):
    """Dream's Adelie penguins labeled Chinstrap: a candidate can learn that and still win on the window
    as a whole, where the feedback outnumbers the old eval data. Only the span gate stands in the way."""
    dream_adelie = [row for row in bundled_rows() if row["species"] == "Adelie" and row["island"] == "Dream"]
    relabeled = [{**row, "species": "Chinstrap"} for row in dream_adelie * 8]
    workspace = _serve_and_label(trained, tmp_path, relabeled, shift=0.0)
    served = _served(workspace)
    # The Evaluator's own bar is lowered, so that only the span gate can refuse.
    result, outcome = _retrain_on_dip(
        workspace, config_with_own_schema(tmp_path, min_accuracy=0.5)[0], "--accept-drift"
    )
    assert result.returncode == EXIT_OK, result.stderr
    run = outcome["run"]
    overall = next(a for a in run["accuracy"] if a["name"] == "overall")
    assert overall["candidate"] > overall["baseline"], "the window as a whole favours the candidate"
    assert run["blessed"] is False and run["pushed_version"] is None
    (reason,) = run["not_blessed_because"]
    assert reason.startswith("accuracy on the earlier data (span 0, n=83)"), reason
    old = run["span_accuracy"][0]
    assert old["candidate"] < old["served"]
    assert _served(workspace) == served
    report = Path(outcome["report"]).read_text()
    assert "Accuracy per span" in report


@pytest.mark.one_stack
def test_a_dip_with_nothing_but_the_labeled_requests_to_train_on_waits(tmp_path, train_model):
    """A model trained elsewhere is served: none of its data is here, so the loop must not train on the
    labeled requests alone, which could replace it with a model worse on everything else."""
    from serving.store.versions import publish

    elsewhere = tmp_path / "elsewhere"
    publish(train_model(3, 0), elsewhere / "serving" / "penguins")  # untrained: its live quality dips
    workspace = _serve_and_label(elsewhere, tmp_path, bundled_rows(), shift=0.0)
    assert _monitor(workspace)["decision"] == "quality_dip"
    result, outcome = _retrain_on_dip(workspace, config_with_own_schema(tmp_path)[0])
    assert result.returncode == EXIT_WAITING_FOR_REVIEW, result.stderr
    assert outcome["retrained"] is False and outcome["labeled_span"] == 1
    assert "the window holds only labeled requests (spans 1)" in outcome["message"]
    assert not (workspace / "metadata.sqlite").exists(), "no pipeline ran"
    assert not (workspace / "monitoring" / "ingested_labels.json").exists()


@pytest.mark.one_stack
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
