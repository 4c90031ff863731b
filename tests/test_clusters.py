"""The pipeline on a real Flink cluster and a real Spark cluster, started by `penguins cluster up`.

Each cluster runs as separate processes on free ports (the engine's own, Beam's job server and a
worker pool), its jars fetched from PyPI and Maven Central into the shared cache on first use.
The runs are compared with one in-process run of the same data. `make test-clusters` runs the
marked tests; the ones that need no cluster (a run against one that is not up) run in `make test`.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from serving.store.versions import list_versions
from tests.helpers import PENGUINS, REPO, free_port, penguins

BEAM_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator")
# The Beam 2.77 runners the TFX 1.21 stack would need are not on Maven Central here.
STACK_WITH_JOB_SERVER = "2.59"
ACCURACY_TOLERANCE = 0.02


def _java_missing() -> str | None:
    if shutil.which("java") is None or shutil.which("mvn") is None:
        return "Java and Maven are needed to fetch and run the clusters (.ci/run installs them)"
    import apache_beam

    if not apache_beam.__version__.startswith(STACK_WITH_JOB_SERVER):
        return (
            f"Beam {apache_beam.__version__}: Maven Central serves no job server for it here (no "
            "*-job-server jar, and no beam-runners-flink/spark of 2.77); only the TFX 1.16 stack is tested"
        )
    return None


needs_cluster = [
    pytest.mark.cluster,
    pytest.mark.e2e,
    pytest.mark.skipif(_java_missing() is not None, reason=str(_java_missing())),
]


def cluster_environment(state: Path) -> dict[str, str]:
    """Every port the clusters use, free ones, and a state folder of the test's own."""
    ports = ("FLINK_REST", "FLINK_RPC", "SPARK_MASTER", "SPARK_UI", "SPARK_WORKER_UI")
    environment = {f"{name}_PORT": str(free_port()) for name in ports}
    environment["BEAM_JOB_ENDPOINT"] = f"localhost:{free_port()}"
    environment["BEAM_WORKER_POOL"] = f"localhost:{free_port()}"
    environment["PENGUINS_CLUSTER_STATE"] = str(state)
    return environment


def _outcome(result: subprocess.CompletedProcess) -> dict:
    return json.loads(result.stdout)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


class Cluster:
    """A cluster brought up by `penguins cluster up ENGINE --json` in an environment of its own."""

    def __init__(self, engine: str, state: Path):
        self.engine = engine
        self.env = cluster_environment(state)
        self.up()

    def up(self) -> dict:
        result = penguins("cluster", "up", self.engine, "--json", env=self.env, timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
        self.outcome = _outcome(result)
        return self.outcome

    def down(self) -> dict:
        result = penguins("cluster", "down", self.engine, "--json", env=self.env)
        assert result.returncode == 0, result.stdout + result.stderr
        return _outcome(result)

    def run(self, workspace: Path, *extra: str) -> subprocess.CompletedProcess:
        preset = ("--beam-preset", self.engine)
        return penguins("run", "--workspace", str(workspace), *preset, "--json", *extra, env=self.env)

    @property
    def web_ui(self) -> str:
        return self.outcome["web_ui"]


def _assert_down_leaves_nothing(cluster: Cluster) -> None:
    processes = cluster.outcome["processes"]
    stopped = cluster.down()
    assert sorted(stopped["stopped"]) == sorted(processes)
    for name, pid in processes.items():
        assert not _group_members(pid), f"{name} (pid {pid}) left processes behind"
    status = penguins("cluster", "status", cluster.engine, "--json", env=cluster.env)
    assert status.returncode == 1 and not any(_outcome(status)["processes"].values())


def _cluster(engine: str, tmp_path_factory):
    """A cluster up for a test class, down after it."""
    cluster = Cluster(engine, tmp_path_factory.mktemp(f"{engine}-state"))
    yield cluster
    cluster.down()


@pytest.fixture(scope="session")
def in_process_run(tmp_path_factory) -> dict:
    """One in-process run of the bundled data: what every cluster run must match."""
    workspace = tmp_path_factory.mktemp("in-process") / "workspace"
    result = penguins("run", "--workspace", str(workspace), "--beam-preset", "in-process", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return _outcome(result)["run"]


def _assert_matches_in_process(run: dict, reference: dict) -> None:
    """The same schema check, examples per split and accuracy as in-process, within 0.02.

    Not always exact: Flink and Spark split the data into other bundles than the in-process runner,
    so Transform's analyzers combine partial results in another order (float sums), and the model
    trains on the same examples but not bit-identical inputs.
    """
    assert run["validation"] == reference["validation"] == "passed"
    assert run["examples"] == reference["examples"]
    overall = {entry["name"]: entry["candidate"] for entry in run["accuracy"]}["overall"]
    expected = {entry["name"]: entry["candidate"] for entry in reference["accuracy"]}["overall"]
    assert abs(overall - expected) <= ACCURACY_TOLERANCE, (overall, expected)
    assert run["blessed"] is True


def _component_windows(log: Path) -> list[tuple[float, str]]:
    """(start time, component) of each component in a run's log, in order."""
    pattern = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO absl: Component (\w+) is running\.")
    starts = []
    for line in log.read_text(errors="replace").splitlines():
        match = pattern.match(line)
        if match:
            moment = datetime.datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f")
            starts.append((moment.timestamp(), match[2]))
    return starts


def _component_of(started_ms: float, windows: list[tuple[float, str]]) -> str | None:
    """The component that was running when a job started: the last one to start before it."""
    earlier = [name for start, name in windows if start <= started_ms / 1000]
    return earlier[-1] if earlier else None


def _finished_components(jobs: list[tuple[float, str]], logs: list[Path]) -> set[str]:
    """The Beam components with a finished job, from (start ms, state) of the engine's jobs."""
    windows = sorted(window for log in logs for window in _component_windows(log))
    return {_component_of(start, windows) for start, state in jobs if state == "FINISHED"}


def _wait_for_running_jobs(web_ui: str, count: int, process: subprocess.Popen, timeout: float) -> None:
    """Waits until the count-th Flink job of this cluster is RUNNING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        jobs = httpx.get(f"{web_ui}/jobs/overview", timeout=5).json()["jobs"]
        if len(jobs) >= count and any(job["state"] == "RUNNING" for job in jobs):
            return
        time.sleep(0.5)
    pytest.fail(f"no {count}th job ran on Flink within {timeout} s")


@pytest.mark.parametrize("engine", ["flink", "spark"])
def test_a_run_against_a_cluster_that_is_not_up_fails_in_seconds_naming_the_endpoint(tmp_path, engine):
    endpoint = f"localhost:{free_port()}"
    workspace = tmp_path / "workspace"
    started = time.monotonic()
    result = penguins(
        "run", "--workspace", str(workspace), "--beam-preset", engine, "--json",
        env={"BEAM_JOB_ENDPOINT": endpoint},
    )  # fmt: skip
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    (message,) = result.stderr.strip().splitlines()[-1:]
    assert message.startswith("Cluster not up: the Beam job server at " + endpoint), result.stderr
    assert _outcome(result)["status"] == "failed" and endpoint in _outcome(result)["error"]
    # Refused before the run: nothing recorded, nothing pushed.
    assert not (workspace / "metadata").exists() or not any((workspace / "metadata").iterdir())
    assert not (workspace / "serving").exists() or not list_versions(workspace / "serving" / "penguins")


@pytest.mark.usefixtures("in_process_run")
class TestFlink:
    pytestmark = needs_cluster

    @pytest.fixture(scope="class")
    def flink(self, tmp_path_factory):
        yield from _cluster("flink", tmp_path_factory)

    @pytest.fixture(scope="class")
    def workspace(self, tmp_path_factory) -> Path:
        return tmp_path_factory.mktemp("flink") / "workspace"

    def test_up_starts_a_jobmanager_and_a_taskmanager_process_with_two_slots(self, flink):
        processes = flink.outcome["processes"]
        assert set(processes) == {"jobmanager", "taskmanager", "job-server", "worker-pool"}
        assert len(set(processes.values())) == 4 and all(_alive(pid) for pid in processes.values())
        managers = httpx.get(f"{flink.web_ui}/taskmanagers", timeout=5).json()["taskmanagers"]
        assert [manager["slotsNumber"] for manager in managers] == [2]

    def test_a_taskmanager_killed_mid_run_fails_the_run_and_pushes_nothing(self, flink, workspace):
        command = [str(PENGUINS), "run", "--workspace", str(workspace), "--beam-preset", "flink", "--json"]
        process = subprocess.Popen(
            command, cwd=REPO, env={**os.environ, **flink.env}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        # ExampleGen's job, then StatisticsGen's: kill the TaskManager while the second one runs.
        _wait_for_running_jobs(flink.web_ui, 2, process, timeout=300)
        os.kill(flink.outcome["processes"]["taskmanager"], signal.SIGKILL)
        killed = time.monotonic()
        stdout, stderr = process.communicate(timeout=300)

        assert process.returncode == 1, stdout + stderr
        assert time.monotonic() - killed < 120
        outcome = json.loads(stdout)
        assert outcome["status"] == "failed" and outcome["served_version"] is None
        assert re.search(r"StatisticsGen\s+FAILED", stderr), stderr
        assert not list_versions(workspace / "serving" / "penguins")
        history = penguins("history", "--workspace", str(workspace), "--json")
        assert [run["status"] for run in json.loads(history.stdout)] == ["failed at StatisticsGen"]
        jobs = httpx.get(f"{flink.web_ui}/jobs/overview", timeout=5).json()["jobs"]
        assert sorted(job["state"] for job in jobs) == ["FAILED", "FINISHED"]

    def test_the_next_run_succeeds_and_matches_the_in_process_run(self, flink, workspace, in_process_run):
        before = flink.outcome["processes"]
        restarted = flink.up()["processes"]  # starts only what is not running: the TaskManager
        assert restarted["taskmanager"] != before["taskmanager"]
        assert restarted["jobmanager"] == before["jobmanager"]

        result = flink.run(workspace)

        assert result.returncode == 0, result.stdout + result.stderr
        run = _outcome(result)["run"]
        _assert_matches_in_process(run, in_process_run)
        assert len(list_versions(workspace / "serving" / "penguins")) == 1
        history = json.loads(penguins("history", "--workspace", str(workspace), "--json").stdout)
        assert [entry["status"] for entry in history] == ["completed", "failed at StatisticsGen"]
        # Flink ran a job for every Beam component, over the two runs (ExampleGen's output of the
        # first is reused by the second), and each finished.
        jobs = httpx.get(f"{flink.web_ui}/jobs/overview", timeout=5).json()["jobs"]
        logs = sorted((workspace / "logs").glob("run-*.log"))
        finished = _finished_components([(job["start-time"], job["state"]) for job in jobs], logs)
        assert finished == set(BEAM_COMPONENTS), jobs

    def test_down_stops_every_process_it_started(self, flink):
        _assert_down_leaves_nothing(flink)


@pytest.mark.usefixtures("in_process_run")
class TestSpark:
    pytestmark = needs_cluster

    @pytest.fixture(scope="class")
    def spark(self, tmp_path_factory):
        yield from _cluster("spark", tmp_path_factory)

    def test_the_pipeline_on_spark_matches_the_in_process_run(self, spark, tmp_path, in_process_run):
        workspace = tmp_path / "workspace"
        result = spark.run(workspace)

        assert result.returncode == 0, result.stdout + result.stderr
        _assert_matches_in_process(_outcome(result)["run"], in_process_run)
        assert len(list_versions(workspace / "serving" / "penguins")) == 1
        # The Spark master lists a completed application for every Beam component.
        master = httpx.get(f"{spark.web_ui}/json/", timeout=5).json()
        completed = [(app["starttime"], app["state"]) for app in master["completedapps"]]
        logs = sorted((workspace / "logs").glob("run-*.log"))
        assert _finished_components(completed, logs) == set(BEAM_COMPONENTS), master["completedapps"]

    def test_down_stops_every_process_it_started(self, spark):
        _assert_down_leaves_nothing(spark)
