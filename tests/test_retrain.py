"""Retraining on spans, end to end: the bundled data arriving year by year, then two bad spans.

The tests run in file order on one workspace, as the data would arrive in production.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipeline.reporting.metadata import pipeline_runs
from serving.store.versions import list_versions, same_saved_model
from tests.helpers import (
    PENGUINS,
    REPO,
    bundled_rows,
    component_lines,
    penguins,
    tree_snapshot,
    workspace_store,
    write_rows,
)

pytestmark = pytest.mark.e2e

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("retrain-workspace")


def _ingest_year(workspace, year: int) -> None:
    result = penguins("ingest", "--bundled", "--year", str(year), "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr


def _retrain(workspace, *extra: str) -> subprocess.CompletedProcess:
    return penguins("retrain", "--workspace", str(workspace), *extra)


def _history(workspace) -> list[dict]:
    result = penguins("history", "--json", "--workspace", str(workspace))
    assert result.returncode == 0, result.stderr
    return [entry for entry in json.loads(result.stdout) if not entry["status"].startswith("read span")]


def _rows_of_2009() -> list[dict[str, str]]:
    return [row for row in bundled_rows() if row["year"] == "2009"]


def _wait_for_lock(workspace, process: subprocess.Popen, timeout: float = 60) -> None:
    lock = workspace / "pipeline.lock"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if lock.is_file() and lock.read_text():
            return
        time.sleep(0.05)
    raise AssertionError("the first retrain never took the workspace lock")


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[bytes] = []
        self.headings: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag, attrs):
        source = dict(attrs).get("src") or ""
        if tag == "img" and source.startswith("data:image/png;base64,"):
            self.images.append(base64.b64decode(source.split(",", 1)[1]))
        self._in_heading = tag in ("h1", "h2")

    def handle_data(self, data):
        if self._in_heading:
            self.headings.append(data)
            self._in_heading = False


def _parse_report(path) -> _Images:
    parser = _Images()
    parser.feed(path.read_text())
    return parser


def test_first_span_trains_and_an_overlapping_retrain_is_refused(workspace):
    _ingest_year(workspace, 2007)
    first = subprocess.Popen(
        [str(PENGUINS), "retrain", "--workspace", str(workspace)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_lock(workspace, first)
        second = _retrain(workspace)
        assert second.returncode == 4, second.stdout + second.stderr
        assert "in use by 'penguins retrain' (pid " in second.stderr
        assert "Only one pipeline runs per workspace" in second.stderr
    finally:
        stdout, stderr = first.communicate(timeout=900)
    assert first.returncode == 0, stdout + stderr
    assert "Drift:     not checked; no span before span 1" in stdout
    assert "Trained on spans 1" in stdout
    assert len(list_versions(workspace / "serving" / "penguins")) == 1


def test_three_spans_arriving_give_three_runs_and_at_most_three_versions(workspace):
    for year, previous_span in ((2008, 1), (2009, 2)):
        _ingest_year(workspace, year)
        result = _retrain(workspace)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Drift:     none against span {previous_span}" in result.stdout

    runs = _history(workspace)
    assert [entry["newest_span"] for entry in runs] == [3, 2, 1]
    assert all(entry["status"] == "completed" and entry["validation"] == "passed" for entry in runs)
    assert [entry["spans"] for entry in runs] == [[1, 2, 3], [1, 2], [1]]
    assert runs[0]["drift"] == "none vs span 2"
    assert {m["feature"] for m in runs[0]["drift_measurements"]} == {
        "species", "island", "sex", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"
    }  # fmt: skip
    assert 1 <= len(list_versions(workspace / "serving" / "penguins")) <= 3
    # The same year again is the same data: refused, not a fourth span.
    again = penguins("ingest", "--bundled", "--year", "2009", "--workspace", str(workspace))
    assert again.returncode == 3 and "already ingested as span 3" in again.stderr


def test_when_new_data_does_nothing_without_a_new_span(workspace):
    before = len(_history(workspace))
    result = _retrain(workspace, "--when-new-data")
    assert result.returncode == 0, result.stderr
    assert "No new data: span 3 is the newest" in result.stdout
    assert len(_history(workspace)) == before


def test_every_run_writes_a_report_with_its_plots(workspace):
    reports = sorted((workspace / "reports").glob("retrain-*.html"))
    assert len(reports) == 3
    report = _parse_report(reports[-1])
    # Distributions, accuracy per slice, confusion matrix: each a real PNG.
    assert len(report.images) == 3
    assert all(image.startswith(PNG_SIGNATURE) and len(image) > 5000 for image in report.images)
    text = " ".join(report.headings)
    for section in ("Feature distributions", "Anomalies and drift", "Accuracy per slice", "Confusion matrix"):
        assert section in text


def test_a_span_with_drift_is_blocked_and_nothing_is_pushed(workspace, tmp_path):
    shifted = [
        dict(row, body_mass_g=str(float(row["body_mass_g"]) + 1500) if row["body_mass_g"] != "NA" else "NA")
        for row in _rows_of_2009()
    ]
    source = write_rows(tmp_path / "heavier-2009.csv", shifted)
    assert penguins("ingest", "--source", str(source), "--workspace", str(workspace)).returncode == 0
    served_before = tree_snapshot(workspace / "serving")

    result = _retrain(workspace)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "drifted from the previous one beyond the schema's thresholds" in result.stdout
    assert "feature 'body_mass_g'" in result.stdout and "Jensen-Shannon divergence" in result.stdout
    statuses = component_lines(result.stdout)
    assert statuses["ValidationGate"] == "FAILED" and "Trainer" not in statuses
    assert tree_snapshot(workspace / "serving") == served_before
    assert (workspace / "data" / "spans" / "span-4" / "rejected.json").is_file()

    latest = _history(workspace)[0]
    assert latest["status"] == "data rejected" and latest["pushed_version"] is None
    assert latest["drift"].startswith("DRIFT vs span 3: body_mass_g")
    drifted = [m for m in latest["drift_measurements"] if m["drifted"]]
    assert [m["feature"] for m in drifted] == ["body_mass_g"] and drifted[0]["value"] > 0.25
    report = _parse_report(sorted((workspace / "reports").glob("retrain-*.html"))[-1])
    assert report.images and report.images[0].startswith(PNG_SIGNATURE)


def test_accepted_drift_is_reported_without_blocking(workspace):
    # After review a person accepts the drift; the schema's range check on body mass still holds.
    result = _retrain(workspace, "--accept-drift")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Unexpectedly high value" in result.stdout
    assert "drifted from the previous one" not in result.stdout
    latest = _history(workspace)[0]
    assert latest["newest_span"] == 4 and latest["drift"].startswith("DRIFT vs span 3: body_mass_g")


def _mislabelled_2009(path, seed: int):
    """The 2009 birds with their species shuffled: same features, same label mix, nothing learnable."""
    rows = _rows_of_2009()
    labels = [row["species"] for row in rows]
    random.Random(seed).shuffle(labels)
    return write_rows(path, [dict(row, species=label) for row, label in zip(rows, labels, strict=True)])


def test_a_span_that_makes_a_worse_model_is_trained_but_not_pushed(workspace, tmp_path):
    # Two such spans arrive before the next retrain, so the older one is read on the way. Neither
    # the schema nor the drift check can object to them.
    for seed in (5, 6):
        source = _mislabelled_2009(tmp_path / f"mislabelled-{seed}.csv", seed)
        assert penguins("ingest", "--source", str(source), "--workspace", str(workspace)).returncode == 0
    served_before = tree_snapshot(workspace / "serving")

    result = _retrain(workspace)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Leaving out spans rejected earlier: 4" in result.stdout
    assert "Reading span 5, which arrived since the last retrain" in result.stdout
    assert component_lines(result.stdout)["Trainer"] == "ran"
    assert "Blessed:   no" in result.stdout
    assert tree_snapshot(workspace / "serving") == served_before

    latest = _history(workspace)[0]
    assert latest["spans"] == [3, 5, 6] and latest["drift"] == "none vs span 5"
    assert latest["blessed"] is False and latest["pushed_version"] is None
    assert any("overall is below the minimum 0.9" in reason for reason in latest["not_blessed_because"])


def test_after_a_rollback_the_served_model_is_the_baseline(workspace):
    model_dir = workspace / "serving" / "penguins"
    replaced = list_versions(model_dir)[-1]
    rollback = penguins("rollback", "--workspace", str(workspace))
    assert rollback.returncode == 0, rollback.stderr
    served = model_dir / str(list_versions(model_dir)[-1])

    result = _retrain(workspace)
    assert result.returncode == 0, result.stdout + result.stderr
    record = pipeline_runs(workspace_store(workspace), "penguins")[0]
    baseline = Path(record.output("served_model_resolver", "model").uri) / "Format-Serving"
    # Not the newest blessed model (the one rolled back out), but the one served now.
    assert same_saved_model(baseline, served)
    assert not same_saved_model(baseline, model_dir / str(replaced))
