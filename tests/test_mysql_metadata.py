"""ML Metadata in a real MariaDB server (Debian's `mariadb-server`), started by the tests on loopback.

Every command that reads or writes metadata runs against it through `PENGUINS_METADATA`, with no
SQLite file in the workspace; two runs on one store from two workspaces are refused one at a time;
a killed holder frees the lock; and each bad connection fails in seconds, in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pipeline.config.settings import DEFAULT_CONFIG
from serving.store.versions import list_versions
from tests.helpers import PENGUINS, REPO, free_port, penguins
from tests.mariadb import MariaDB

pytestmark = [pytest.mark.e2e, pytest.mark.one_stack]

RUNNING, CANCELED = 2, 6  # ML Metadata's Execution.State values, as the server's table holds them


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    mariadb = MariaDB(tmp_path_factory.mktemp("mariadb"))
    yield mariadb
    mariadb.stop()


def _with_store(url: str) -> dict[str, str]:
    return {"PENGUINS_METADATA": url}


def _json(url: str, *args: str) -> dict | list:
    result = penguins(*args, "--json", env=_with_store(url))
    assert result.returncode in (0, 3), result.stdout + result.stderr
    return json.loads(result.stdout)


def _sqlite_files(workspace: Path) -> list[Path]:
    return list(workspace.rglob("*.sqlite*"))


def _always_blessed_config(folder: Path) -> Path:
    """The bundled config, but one epoch and always blessed: a worse model that is pushed anyway."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(REPO / "schema" / "penguins" / "schema.pbtxt")
    config["training"]["epochs"] = 1
    config["evaluation"].update(min_accuracy=0.0, max_accuracy_drop=1.0)
    path = folder / "always-blessed.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_every_command_works_against_the_server_and_the_workspace_has_no_sqlite_file(server, tmp_path):
    url = server.database("loop_store", user="loop")
    workspace = str(tmp_path / "workspace")

    first = _json(url, "run", "--workspace", workspace)
    good = int(first["run"]["pushed_version"])
    executions = server.count("loop_store", "Execution")
    assert executions >= 8, "each component's execution is a row in the server's Execution table"

    assert penguins("ingest", "--bundled", "--year", "2009", "--workspace", workspace).returncode == 0
    retrained = _json(url, "retrain", "--workspace", workspace)
    assert retrained["run"]["status"] == "completed", retrained
    served = _json(url, "versions", "--workspace", workspace)["served_version"]
    worse = _json(url, "run", "--workspace", workspace, "--config", str(_always_blessed_config(tmp_path)))
    assert worse["run"]["pushed_version"] not in (None, str(served))
    rolled_back = _json(url, "rollback", "--workspace", workspace)
    assert rolled_back["restored"] == served

    history = _json(url, "history", "--workspace", workspace)
    runs = {entry["run_id"]: entry for entry in history}
    for outcome in (first, retrained, worse):
        assert runs[outcome["run"]["run_id"]]["status"] == "completed"
    versions = _json(url, "versions", "--workspace", workspace)
    accuracy = {entry["version"]: entry["accuracy"] for entry in versions["versions"]}
    assert accuracy[good] is not None, "a version's accuracy comes from the run that pushed it, in the server"
    monitored = _json(url, "monitor", "--workspace", workspace)
    assert monitored["served_version"] == rolled_back["version"]
    assert monitored["versions"] == [] and monitored["decision"] == "not_enough_labels"

    assert server.count("loop_store", "Execution") > executions
    assert _sqlite_files(tmp_path) == []
    assert list_versions(tmp_path / "workspace" / "serving" / "penguins")


def _start_run(url: str, workspace: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(PENGUINS), "run", "--workspace", str(workspace)],
        cwd=REPO,
        env={**os.environ, **_with_store(url)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(0.2)


def _running_executions(server: MariaDB, database: str) -> int:
    if "Execution" not in server.tables(database):
        return 0
    found = server.sql(f"SELECT COUNT(*) FROM Execution WHERE last_known_state = {RUNNING}", database)
    return int(found.stdout.strip())


def test_two_workspaces_on_one_store_run_one_at_a_time_and_a_killed_holder_frees_it(server, tmp_path):
    url = server.database("shared", user="shared")
    holder = _start_run(url, tmp_path / "first")
    try:
        _wait_for(lambda: _running_executions(server, "shared") > 0, 120, "the first run's first component")

        refused = penguins("run", "--workspace", str(tmp_path / "second"), "--json", env=_with_store(url))

        assert refused.returncode == 4, refused.stdout + refused.stderr
        (line,) = refused.stderr.strip().splitlines()
        assert line.startswith(
            f"Refused: Metadata store mysql://shared@127.0.0.1:{server.port}/shared is in use by"
        )
        assert f"'penguins run' (pid {holder.pid} on " in line
        assert json.loads(refused.stdout)["error"] == line
    finally:
        holder.kill()  # SIGKILL: no clean-up runs, the server alone sees the connection end
        holder.wait()

    after = penguins("run", "--workspace", str(tmp_path / "second"), "--json", env=_with_store(url))

    assert after.returncode == 0, after.stdout + after.stderr
    assert "marked abandoned in the metadata store" in after.stderr
    assert json.loads(after.stdout)["run"]["pushed_version"] is not None
    assert _running_executions(server, "shared") == 0
    canceled = server.sql(f"SELECT COUNT(*) FROM Execution WHERE last_known_state = {CANCELED}", "shared")
    assert int(canceled.stdout) >= 1


def _refusal(url: str, command: str, workspace: Path, **env: str) -> str:
    """The command's one-line error, after checking it failed fast and created no SQLite store."""
    started = time.monotonic()
    result = penguins(command, "--workspace", str(workspace), "--json", env={**_with_store(url), **env})
    assert time.monotonic() - started < 15
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert json.loads(result.stdout)["error"] == line
    assert _sqlite_files(workspace) == []
    return line


@pytest.mark.parametrize("command", ["run", "history"])
def test_each_bad_connection_fails_in_seconds_naming_the_server_and_database(server, tmp_path, command):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    url = server.database(f"bad_{command}", user=f"bad_{command}")
    server.sql(f"CREATE USER 'idle_{command}'@'%' IDENTIFIED BY 'pw'")
    where = f"127.0.0.1:{server.port}"

    down = _refusal(f"mysql://u:p@127.0.0.1:{free_port()}/x", command, workspace)
    assert "no MySQL server answers at 127.0.0.1:" in down and "/x" in down
    wrong = _refusal(url.replace(":secret@", ":wrong@"), command, workspace)
    assert f"refused user 'bad_{command}' (wrong password or unknown user)" in wrong and where in wrong
    missing = _refusal(server.url("no_such_db"), command, workspace)
    assert f"database 'no_such_db' does not exist on {where}" in missing
    no_rights = _refusal(server.url(f"bad_{command}", f"idle_{command}", "pw"), command, workspace)
    assert f"user 'idle_{command}' has no rights on database 'bad_{command}' at {where}" in no_rights
    server.sql("CREATE DATABASE IF NOT EXISTS `loop`")
    reserved = _refusal(server.url("loop"), command, workspace)
    assert f"cannot use a database named 'loop', a reserved word on {where}" in reserved


def test_a_user_who_may_only_read_cannot_start_a_run(server, tmp_path):
    server.database("readers")
    server.sql("CREATE USER 'reader'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON readers.* TO 'reader'@'%'")

    line = _refusal(server.url("readers", "reader", "pw"), "run", tmp_path)

    assert "user 'reader' lacks INSERT, UPDATE, DELETE, CREATE, INDEX on database 'readers'" in line


def test_the_password_can_come_from_a_file_and_is_never_printed(server, tmp_path):
    url = server.database("secret_file", user="filed", password="s3cret-pw")
    password_file = tmp_path / "password"
    password_file.write_text("s3cret-pw\n")
    without_password = url.replace(":s3cret-pw@", "@")

    result = penguins(
        "history", "--workspace", str(tmp_path), "--json",
        env={"PENGUINS_METADATA": without_password, "PENGUINS_METADATA_PASSWORD_FILE": str(password_file)},
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No runs yet: mysql://filed@127.0.0.1" in result.stderr
    both = penguins(
        "history", "--workspace", str(tmp_path),
        env={"PENGUINS_METADATA": url, "PENGUINS_METADATA_PASSWORD_FILE": str(password_file)},
    )  # fmt: skip
    assert both.returncode == 2 and "give the password in one place" in both.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr + both.stdout + both.stderr


def test_a_server_lost_mid_run_fails_it_pushes_nothing_and_the_next_run_settles_it(tmp_path):
    own_server = MariaDB(tmp_path / "mariadb")
    try:
        url = own_server.database("dropped", user="dropped")
        workspace = tmp_path / "workspace"
        run = _start_run(url, workspace)
        _wait_for(lambda: _running_executions(own_server, "dropped") > 0, 120, "the run's first component")
        own_server.stop()
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 1, output
        store = f"Metadata store mysql://dropped@127.0.0.1:{own_server.port}/dropped"
        assert output.strip().splitlines()[-1].startswith(f"{store}: no MySQL server answers"), output
        assert not (workspace / "serving" / "penguins").is_dir() or not list_versions(
            workspace / "serving" / "penguins"
        )

        own_server.start()
        after = penguins("run", "--workspace", str(workspace), "--json", env=_with_store(url))

        assert after.returncode == 0, after.stdout + after.stderr
        assert "marked abandoned in the metadata store" in after.stderr
        assert _running_executions(own_server, "dropped") == 0
    finally:
        own_server.stop()
