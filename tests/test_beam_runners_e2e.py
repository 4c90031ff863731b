"""The whole pipeline on Beam's multi-processing DirectRunner and on a portable runner's job service.

The portable run goes through a real job server started here: Beam's Python-only one
(`apache_beam.runners.portability.local_job_service_main`), which takes jobs over the same job
API as Flink's and Spark's job servers, with the options of the `portable` preset (all but one:
see the test).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time

import pytest

from serving.store.versions import list_versions
from tests.helpers import component_lines, left_in_tmpdir, penguins

pytestmark = pytest.mark.e2e

BEAM_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator")
# What each Beam SDK worker process logs when it ends; the in-process runner starts none.
WORKER_EXIT = "Python sdk harness exiting"


def _assert_trained_and_pushed(result, workspace):
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = component_lines(result.stdout)
    for component in (*BEAM_COMPONENTS, "Trainer", "AtomicPusher"):
        assert statuses.get(component) == "ran", result.stdout
    assert "Blessed:   yes" in result.stdout
    assert len(list_versions(workspace / "serving" / "penguins")) == 1


def _log_text(workspace) -> str:
    (log,) = (workspace / "logs").glob("run-*.log")
    return log.read_text(errors="replace")


def test_multi_processing_run_trains_and_pushes_with_worker_processes(tmp_path):
    workspace, temporary = tmp_path / "workspace", tmp_path / "tmp"
    temporary.mkdir()
    result = penguins(
        "run",
        "--workspace",
        str(workspace),
        "--beam-preset",
        "multi-processing",
        env={"TMPDIR": str(temporary)},
    )

    _assert_trained_and_pushed(result, workspace)
    assert "Beam preset: multi-processing (chosen)" in result.stdout
    log = _log_text(workspace)
    assert '"--direct_running_mode=multi_processing"' in log
    # At least one worker process per Beam-powered component ran and ended.
    assert log.count(WORKER_EXIT) >= len(BEAM_COMPONENTS)
    # Neither the components nor their workers leave anything in the temporary directory.
    assert not left_in_tmpdir(temporary)


@pytest.fixture
def job_server(tmp_path):
    """Beam's Python portable job server on a free port; yields its address and its log file."""
    port_file, log_path = tmp_path / "job_server.port", tmp_path / "job_server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
             "--port", "0", "--port_file", str(port_file)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield f"localhost:{port_file.read_text().strip()}", log_path
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_portable_runner_runs_every_beam_component_as_a_job_on_the_job_server(tmp_path, job_server):
    endpoint, server_log = job_server
    workspace = tmp_path / "workspace"
    # Beam's Python job server fuses the pipeline itself and refuses one fused by the client, so
    # the preset's pre_optimize=all (for Flink's and Spark's job servers) is replaced here.
    options = [f"--beam-arg=--job_endpoint={endpoint}", "--beam-arg=--experiments=pre_optimize=none"]
    result = penguins("run", "--workspace", str(workspace), "--beam-preset", "portable", *options)

    _assert_trained_and_pushed(result, workspace)
    assert "Beam preset: portable (chosen)" in result.stdout
    jobs = server_log.read_text()
    # Each Beam-powered component submitted its pipeline to the job server, which ran it to the end.
    assert len(re.findall(r"Running job '", jobs)) >= len(BEAM_COMPONENTS), jobs[-3000:]
    assert len(re.findall(r"Completed job in [\d.]+ seconds with state DONE", jobs)) >= len(BEAM_COMPONENTS)
    assert "FAILED" not in jobs
    assert f'"--job_endpoint={endpoint}"' in _log_text(workspace)


def test_portable_preset_without_an_endpoint_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("BEAM_JOB_ENDPOINT", raising=False)
    result = penguins("run", "--workspace", str(tmp_path / "workspace"), "--beam-preset", "portable")
    assert result.returncode == 2
    assert "Beam preset 'portable' needs --job_endpoint" in result.stderr
