"""`penguins metadata copy`: a workspace's SQLite store moved into a real MariaDB server, ids and all.

One real run makes the store that every test copies; each test copies it into its own database on
one server shared by the module. The run's workspace is only read: a run on the copy writes to the
server (and to the workspace's model folder, which is why that run is part of the copy's test).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3

import pytest

from pipeline.config.metadata_location import parse_mysql_url
from pipeline.metadata.store import open_store
from tests.helpers import component_lines, free_port, penguins, workspace_store
from tests.mariadb import MariaDB

pytestmark = pytest.mark.one_stack

LOCK_TABLE = "penguins_run_lock"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    mariadb = MariaDB(tmp_path_factory.mktemp("mariadb"))
    yield mariadb
    mariadb.stop()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    folder = tmp_path_factory.mktemp("copied") / "ws"
    result = penguins("run", "--workspace", str(folder))
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


def _copy(workspace, url, *more, env=None):
    return penguins("metadata", "copy", "--to", url, "--workspace", str(workspace), "--json", *more, env=env)


def _outcome(result) -> dict:
    return json.loads(result.stdout)


def _sqlite_counts(path) -> dict[str, int]:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as reading:
        tables = [
            name
            for (name,) in reading.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {table: reading.execute(f"SELECT COUNT(*) FROM `{table}`").fetchone()[0] for table in tables}


def _server_counts(server: MariaDB, database: str) -> dict[str, int]:
    return {table: server.count(database, table) for table in server.tables(database) if table != LOCK_TABLE}


def _recorded(store) -> list[list[bytes]]:
    """Everything ML Metadata hands back, as bytes: ids, uris, properties, lineage."""
    return [
        [item.SerializeToString(deterministic=True) for item in items]
        for items in (
            store.get_artifact_types(),
            store.get_execution_types(),
            store.get_context_types(),
            store.get_artifacts(),
            store.get_executions(),
            store.get_contexts(),
            store.get_events_by_execution_ids([e.id for e in store.get_executions()]),
        )
    ]


def _json_of(*args, env=None):
    result = penguins(*args, "--json", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_the_copy_keeps_history_versions_and_ids_and_a_run_on_it_finds_the_served_model(server, workspace):
    sqlite_file = workspace / "metadata.sqlite"
    history = _json_of("history", "--workspace", str(workspace))
    versions = _json_of("versions", "--workspace", str(workspace))
    source_bytes = hashlib.sha256(sqlite_file.read_bytes()).hexdigest()
    url = server.database("moved", user="mover")

    result = _copy(workspace, url)
    assert result.returncode == 0, result.stderr
    outcome = _outcome(result)
    counts = _sqlite_counts(sqlite_file)
    assert outcome["tables"] == counts and outcome["rows"] == sum(counts.values())
    assert outcome["source"] == str(sqlite_file)
    assert outcome["target"] == f"mysql://mover@127.0.0.1:{server.port}/moved"  # no password
    assert "secret" not in result.stdout + result.stderr
    assert f"export PENGUINS_METADATA=mysql://mover@127.0.0.1:{server.port}/moved" in result.stderr
    assert _server_counts(server, "moved") == counts
    assert hashlib.sha256(sqlite_file.read_bytes()).hexdigest() == source_bytes  # only read

    on_server = {"PENGUINS_METADATA": url}
    assert _json_of("history", "--workspace", str(workspace), env=on_server) == history
    assert _json_of("versions", "--workspace", str(workspace), env=on_server) == versions
    assert _recorded(open_store(parse_mysql_url(url, "test"))) == _recorded(workspace_store(workspace))

    # The copy is the store now: a run through TFX finds its cached outputs (TFX looks them up by
    # context and artifact ids) and evaluates against the model the copied run pushed.
    rerun = penguins("run", "--rerun", "--workspace", str(workspace), env=on_server)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "cached" in component_lines(rerun.stdout).values(), rerun.stdout
    blessed = next(line for line in rerun.stdout.splitlines() if line.startswith("Blessed:"))
    assert "below the served model" in blessed, rerun.stdout
    assert f"(served model {history[0]['accuracy'][0]['candidate']:.3f})" in rerun.stdout, rerun.stdout
    assert len(_json_of("history", "--workspace", str(workspace), env=on_server)) == len(history) + 1
    assert _sqlite_counts(sqlite_file) == counts  # the run on the copy left the SQLite file alone


def test_a_target_that_is_not_empty_is_refused_and_left_unchanged(server, workspace, tmp_path):
    url = server.database("twice", user="twice")
    password = tmp_path / "password"
    password.write_text("secret\n")
    from_file = {"PENGUINS_METADATA_PASSWORD_FILE": str(password)}
    assert _copy(workspace, server.url("twice", "twice", password=""), env=from_file).returncode == 0
    before = server.sql("CHECKSUM TABLE Artifact, Execution, Context, Event, Type", "twice").stdout

    again = _copy(workspace, url)
    assert again.returncode == 2
    assert _outcome(again)["error"] == (
        f"Refused: mysql://twice@127.0.0.1:{server.port}/twice already holds an ML Metadata store; the copy "
        "needs an empty database (create a new one, or drop this one's tables if nothing uses them)"
    )
    assert again.stderr.strip().splitlines()[-1] == _outcome(again)["error"]
    assert server.sql("CHECKSUM TABLE Artifact, Execution, Context, Event, Type", "twice").stdout == before

    url = server.database("notes", user="notes")
    server.sql("CREATE TABLE notes (line TEXT); INSERT INTO notes VALUES ('kept')", "notes")
    refused = _copy(workspace, url)
    assert refused.returncode == 2
    assert "/notes is not empty (rows in notes)" in _outcome(refused)["error"]
    assert server.tables("notes") - {LOCK_TABLE} == {"notes"}


def test_nothing_to_copy_a_bad_url_and_no_server_are_one_line_each(server, workspace, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    url = server.database("unused", user="unused")
    nothing = _copy(empty, url)
    assert nothing.returncode == 2
    assert _outcome(nothing)["error"] == (
        f"Refused: {empty / 'metadata.sqlite'}: no ML Metadata store, so nothing to copy; expected the "
        "metadata.sqlite that `penguins run` writes in the workspace (check --workspace)"
    )
    assert server.tables("unused") == set()  # refused before it took the server's lock

    (empty / "metadata.sqlite").write_text("not a database")
    garbage = _copy(empty, url)
    assert garbage.returncode == 2
    assert _outcome(garbage)["error"] == (
        f"Refused: {empty / 'metadata.sqlite'}: not a readable SQLite file (file is not a database); "
        "expected the ML Metadata store that `penguins run` writes in the workspace"
    )
    assert server.tables("unused") - {LOCK_TABLE} == set()

    bad = _copy(empty, "postgres://u@127.0.0.1/db")
    assert bad.returncode == 2
    assert _outcome(bad)["error"].startswith("Config error: --to: the scheme is 'postgres', not 'mysql'")

    port = free_port()
    away = _copy(workspace, f"mysql://u:pw@127.0.0.1:{port}/db")
    assert away.returncode == 1
    assert f"no MySQL server answers at 127.0.0.1:{port}" in _outcome(away)["error"]
    assert "pw" not in away.stdout


def test_a_copy_that_fails_midway_leaves_the_target_empty_for_a_retry(server, workspace, tmp_path):
    """A latin1 database cannot hold an artifact path in Chinese: the server refuses that row after
    the types were copied, and the copy takes back what it made."""
    odd = tmp_path / "odd"
    odd.mkdir()
    shutil.copyfile(workspace / "metadata.sqlite", odd / "metadata.sqlite")
    with sqlite3.connect(odd / "metadata.sqlite") as writing:
        writing.execute("UPDATE Artifact SET uri = uri || '/企鹅' WHERE id = (SELECT MAX(id) FROM Artifact)")
    url = server.database("narrow", user="narrow")
    server.sql("ALTER DATABASE narrow CHARACTER SET latin1")

    failed = _copy(odd, url)
    assert failed.returncode == 1, failed.stderr
    error = _outcome(failed)["error"]
    assert error.startswith(
        f"Copy to mysql://narrow@127.0.0.1:{server.port}/narrow failed in table Artifact: "
    )
    assert "Incorrect string value" in error and error.endswith(
        "the target was left empty, so fix the cause and copy again"
    )
    assert "\n" not in error
    assert server.tables("narrow") - {LOCK_TABLE} == set()
    assert server.count("narrow", LOCK_TABLE) == 0

    server.sql("ALTER DATABASE narrow CHARACTER SET utf8mb4")
    retried = _copy(odd, url)
    assert retried.returncode == 0, retried.stderr
    assert _server_counts(server, "narrow") == _sqlite_counts(odd / "metadata.sqlite")
    assert server.sql("SELECT COUNT(*) FROM Artifact WHERE uri LIKE '%/企鹅'", "narrow").stdout.strip() == "1"
