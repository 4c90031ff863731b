"""`penguins schedule`: the real scheduler process, firing real retrains on a short interval."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from serving.store.versions import list_versions
from tests.helpers import PENGUINS, REPO, penguins


def _wait_for(path, text: str, process: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = path.read_text() if path.is_file() else ""
        if text in content:
            return content
        if process.poll() is not None:
            raise AssertionError(f"the scheduler exited with {process.returncode} before '{text}'")
        time.sleep(0.2)
    raise AssertionError(f"'{text}' never appeared in {path}")


@pytest.mark.e2e
@pytest.mark.one_stack
def test_scheduler_fires_survives_a_failed_run_and_stops_on_sigterm(tmp_path):
    workspace = tmp_path / "workspace"
    output = tmp_path / "schedule.out"
    with output.open("w") as sink:
        scheduler = subprocess.Popen(
            [str(PENGUINS), "schedule", "--every", "2", "--workspace", str(workspace)],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        # No data yet: the first runs fail, and the schedule goes on.
        _wait_for(output, "retrain could not start", scheduler, timeout=60)
        assert (
            penguins("ingest", "--bundled", "--year", "2007", "--workspace", str(workspace)).returncode == 0
        )
        log = _wait_for(output, "retrain finished", scheduler, timeout=600)
        assert scheduler.poll() is None
        (version,) = list_versions(workspace / "serving" / "penguins")
        # The outcome line comes from the retrain's JSON outcome, naming the run as history does. The
        # next fire may already have started another retrain, which history lists beside it.
        runs = json.loads(penguins("history", "--json", "--workspace", str(workspace)).stdout)
        named = [r for r in runs if f"run {r['run_id']}, span 1, pushed version {version}" in log]
        assert "retrain finished in" in log
        assert [(r["status"], r["pushed_version"]) for r in named] == [("completed", str(version))]
        # Fires due while that retrain ran were skipped, and the log says so.
        assert "skipped the retrain due at" in log and "the previous retrain is still running" in log
        assert "Trained on spans 1" in (workspace / "logs" / "schedule.log").read_text()
    finally:
        scheduler.send_signal(signal.SIGTERM)
        returncode = scheduler.wait(timeout=60)
    assert returncode == 0
    log = output.read_text()
    assert "received SIGTERM; stopping" in log and "schedule stopped" in log
    assert "Traceback" not in log


def test_a_bad_cron_expression_is_refused_with_the_expected_form(tmp_path):
    result = penguins("schedule", "--cron", "every day at 3", "--workspace", str(tmp_path))
    assert result.returncode == 2
    assert "is not a crontab expression" in result.stderr and '"0 3 * * *"' in result.stderr


def test_the_cron_schedule_runs_in_the_time_zone_of_tz(tmp_path):
    """The container's clock is UTC unless TZ is set (compose passes yours): the log names the zone."""
    scheduler = subprocess.Popen(
        [str(PENGUINS), "schedule", "--cron", "0 3 * * *", "--workspace", str(tmp_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TZ": "Asia/Tokyo"},
    )
    try:
        started = scheduler.stdout.readline()
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=60) == 0
    assert "schedule started: retrain cron '0 3 * * *' (Asia/Tokyo)" in started


def test_when_quality_dips_the_schedule_monitors_and_says_why_it_did_not_retrain(tmp_path):
    workspace = tmp_path / "workspace"
    output = tmp_path / "schedule.out"
    with output.open("w") as sink:
        scheduler = subprocess.Popen(
            [str(PENGUINS), "schedule", "--every", "1", "--when-quality-dips", "--workspace", str(workspace)],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        log = _wait_for(output, "no retrain, monitor decided not_enough_labels", scheduler, timeout=120)
        assert "only when live quality dipped" in log
        assert not (workspace / "data" / "spans").exists()
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(timeout=60) == 0
    recorded = json.loads(penguins("history", "--json", "--workspace", str(workspace)).stdout)
    assert recorded and all(entry["kind"] == "monitor" for entry in recorded)
    assert recorded[0]["decision"] == "not_enough_labels"
