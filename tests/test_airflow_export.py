"""`penguins export airflow`: the DAG file, parsed and run by a real Airflow 3 in its own venv.

The venv is built once and cached (tests/side_venvs.py); Airflow runs with SQLite in a temporary
AIRFLOW_HOME, and `airflow dags test` runs the exported DAG's tasks for real, calling `penguins`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess

import pytest

from tests.helpers import bundled_rows, penguins, write_rows
from tests.side_venvs import airflow_venv

TASKS = ["retrain_on_new_data", "monitor", "retrain_when_quality_dips"]

# Run in the Airflow venv: loads a DAG file as the scheduler does (Airflow already imported) and
# prints what the test checks, as JSON.
INSPECT_DAG = """
import json, runpy, sys, time
import airflow.sdk
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
started = time.perf_counter()
dag = runpy.run_path(sys.argv[1])["dag"]
seconds = time.perf_counter() - started
def task(t):
    seen = {"type": type(t).__name__, "trigger_rule": t.trigger_rule.value, "retries": t.retries,
            "skip_on_exit_code": sorted(t.skip_on_exit_code), "downstream": sorted(t.downstream_task_ids)}
    if isinstance(t, BashOperator):
        seen["bash_command"] = t.bash_command
    else:
        seen.update(image=t.image, arguments=t.arguments,
                    claims=[v.persistent_volume_claim.claim_name for v in t.volumes],
                    mounts=[m.mount_path for m in t.volume_mounts])
    return seen
print(json.dumps({
    "seconds": seconds,
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tfx", "pipeline")),
    "dag_id": dag.dag_id, "schedule": str(dag.schedule), "catchup": dag.catchup,
    "max_active_runs": dag.max_active_runs, "tasks": {t.task_id: task(t) for t in dag.tasks},
}))
"""


@pytest.fixture(scope="module")
def airflow():
    return airflow_venv() / "bin"


def _airflow_env(home) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }


def _inspect(airflow, dag_file) -> dict:
    result = subprocess.run(
        [str(airflow / "python"), "-c", INSPECT_DAG, str(dag_file)],
        capture_output=True,
        text=True,
        check=False,
        env=_airflow_env(dag_file.parent.parent),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def _export(*args: str) -> dict:
    result = penguins("export", "airflow", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_bad_values_are_refused_naming_the_flag(tmp_path):
    for flags, expected in (
        (["--schedule", "at three"], "--schedule 'at three' is not a crontab expression"),
        (["--dag-id", "my dag"], "--dag-id 'my dag': expected letters, digits"),
        (["--workspace", str(tmp_path / "{{ ds }}")], "holds Jinja template syntax"),
    ):
        result = penguins("export", "airflow", "--out", str(tmp_path / "dags"), *flags, "--json")
        assert result.returncode == 2, result.stderr
        assert expected in json.loads(result.stdout)["error"] and expected in result.stderr
    assert not (tmp_path / "dags").exists()


@pytest.mark.one_stack
def test_the_dag_file_parses_fast_and_runs_the_commands_in_order(airflow, tmp_path):
    workspace = tmp_path / "a workspace; with 'quotes'"
    outcome = _export("--out", str(tmp_path / "dags"), "--workspace", str(workspace), "--schedule", "@daily")
    dag = _inspect(airflow, tmp_path / "dags" / "penguins_retrain.py")
    assert outcome["path"] == str(tmp_path / "dags" / "penguins_retrain.py")
    assert dag["seconds"] < 0.5 and dag["heavy"] == []
    assert (dag["dag_id"], dag["schedule"], dag["catchup"], dag["max_active_runs"]) == (
        "penguins_retrain",
        "@daily",
        False,
        1,
    )
    tasks = dag["tasks"]
    assert list(tasks) == TASKS
    assert [tasks[t]["downstream"] for t in TASKS] == [["monitor"], ["retrain_when_quality_dips"], []]
    assert [tasks[t]["trigger_rule"] for t in TASKS] == ["all_success", "none_failed", "none_failed"]
    assert all(
        t["type"] == "BashOperator" and t["skip_on_exit_code"] == [3] and t["retries"] > 0
        for t in tasks.values()
    )
    quoted = "'" + str(workspace).replace("'", "'\"'\"'") + "'"  # shlex's quoting of the odd path
    assert tasks["monitor"]["bash_command"].endswith(f"/penguins monitor --workspace {quoted} --json")


@pytest.mark.one_stack
def test_with_an_image_each_task_is_a_pod_of_it_on_the_workspace_claim(airflow, tmp_path):
    _export("--out", str(tmp_path / "dags"), "--image", "registry.example/penguins:1.2", "--dag-id", "pods")
    dag = _inspect(airflow, tmp_path / "dags" / "pods.py")
    assert dag["seconds"] < 0.5 and dag["heavy"] == []
    tasks = dag["tasks"]
    assert list(tasks) == TASKS
    assert all(
        t["type"] == "KubernetesPodOperator"
        and t["image"] == "registry.example/penguins:1.2"
        and t["claims"] == ["penguins-workspace"]
        and t["mounts"] == ["/workspace"]
        and t["skip_on_exit_code"] == [3]
        for t in tasks.values()
    )
    # The image's entrypoint is `penguins`: the pods get arguments only.
    assert tasks["monitor"]["arguments"] == ["monitor", "--workspace", "/workspace", "--json"]


def _json_output(result: subprocess.CompletedProcess):
    """The JSON an `airflow ... -o json` command printed: its last line (warnings may come first)."""
    return json.loads(result.stdout.splitlines()[-1])


def _dags_test(airflow, home, dag_id: str, logical_date: str) -> dict[str, str]:
    """Runs the DAG once with `airflow dags test`; the state of each task in that run."""
    env = _airflow_env(home)
    ran = subprocess.run(
        [str(airflow / "airflow"), "dags", "test", dag_id, logical_date],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=1800,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    runs = subprocess.run(
        [str(airflow / "airflow"), "dags", "list-runs", dag_id, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    (run_id,) = [r["run_id"] for r in _json_output(runs) if r["logical_date"].startswith(logical_date)]
    states = subprocess.run(
        [str(airflow / "airflow"), "tasks", "states-for-dag-run", dag_id, run_id, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return {t["task_id"]: t["state"] for t in _json_output(states)}


def _xcom(home, dag_id: str, task_id: str) -> list[dict]:
    """The outcomes a task pushed, read from Airflow's SQLite database (XCom values are JSON)."""
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute("SELECT value FROM xcom WHERE dag_id = ? AND task_id = ?", (dag_id, task_id))
        return [json.loads(json.loads(value)) for (value,) in rows]


@pytest.mark.e2e
@pytest.mark.one_stack
def test_airflow_retrains_on_a_new_span_and_skips_a_drifted_one(airflow, tmp_path):
    workspace, home = tmp_path / "workspace", tmp_path / "airflow"
    for year in ("2007", "2008"):  # a first retrain, then a new span for the DAG
        assert penguins("ingest", "--bundled", "--year", year, "--workspace", str(workspace)).returncode == 0
        if year == "2007":
            assert penguins("retrain", "--workspace", str(workspace)).returncode == 0
    _export("--out", str(home / "dags"), "--workspace", str(workspace))
    migrate = subprocess.run(
        [str(airflow / "airflow"), "db", "migrate"], capture_output=True, text=True, env=_airflow_env(home)
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    states = _dags_test(airflow, home, "penguins_retrain", "2024-06-01")
    assert states == dict.fromkeys(TASKS, "success")
    runs = json.loads(penguins("history", "--json", "--workspace", str(workspace)).stdout)
    retrains = [r for r in runs if r.get("trigger") == "airflow, new data"]
    assert [(r["status"], r["newest_span"]) for r in retrains] == [("completed", 2)]
    # Each task's last line is its whole one-line outcome, kept by Airflow as the task's XCom.
    (retrained,) = _xcom(home, "penguins_retrain", "retrain_on_new_data")
    assert (retrained["command"], retrained["status"]) == ("retrain", "completed")
    assert retrained["run"]["run_id"] == retrains[0]["run_id"]
    assert _xcom(home, "penguins_retrain", "monitor")[0]["command"] == "monitor"

    heavier = [
        dict(row, body_mass_g=str(float(row["body_mass_g"]) + 1500) if row["body_mass_g"] != "NA" else "NA")
        for row in bundled_rows()
        if row["year"] == "2009"
    ]
    source = write_rows(tmp_path / "heavier-2009.csv", heavier)
    assert penguins("ingest", "--source", str(source), "--workspace", str(workspace)).returncode == 0
    states = _dags_test(airflow, home, "penguins_retrain", "2024-06-02")
    # Exit code 3 (drift) is a skip, not a failure, and live quality is watched all the same.
    assert states == {
        "retrain_on_new_data": "skipped",
        "monitor": "success",
        "retrain_when_quality_dips": "success",
    }
    runs = json.loads(penguins("history", "--json", "--workspace", str(workspace)).stdout)
    by_airflow = [r["status"] for r in runs if r.get("trigger") == "airflow, new data"]
    assert by_airflow == ["data rejected", "completed"]
