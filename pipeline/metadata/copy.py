"""Copies a workspace's SQLite ML Metadata store into an empty database on a MySQL-compatible server.

A workspace that began on SQLite keeps its past when it moves to a shared server: every row keeps
its id, so lineage, the served model's run (the evaluator's baseline) and TFX's cache, which finds
earlier outputs by their artifact and context ids, all carry over. ML Metadata has no export, so the
copy is made at the SQL level. ML Metadata creates its own schema on the server first (its MySQL
tables differ from SQLite's in column types and indexes), then every row of every table is copied
in one transaction and counted on both sides before it commits.

ML Metadata seeds its nine system types (`mlmd.Dataset` to `mlmd.Deploy`, ids 1 to 9) and its
schema version when it creates a store; the SQLite file holds the same rows, so the copy replaces
the seeded rows rather than adding to them. A copy that fails drops the tables it made, leaving the
database empty for the next attempt; the SQLite file is only ever opened read-only.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

import pymysql

from pipeline.config.metadata_location import MysqlLocation, SqliteLocation
from pipeline.metadata.run_lock import HOLDERS_TABLE
from pipeline.metadata.server import STORE_MARKER_TABLE, MetadataStoreError, connection
from pipeline.metadata.store import open_store

# ML Metadata's tables in the order it made them; SQLite's own (sqlite_sequence) are not its data.
_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
BATCH_ROWS = 1000  # rows per multi-row INSERT: few round trips, far below the server's packet limit


class CopyRefusedError(RuntimeError):
    """There is nothing to copy, or the target is not an empty database; nothing was written."""


def copy_store(source: SqliteLocation, target: MysqlLocation) -> dict:
    """Copies every row of the source store into the empty target; returns where from, where to, the
    rows copied per table and the seconds it took.

    The caller has checked the source (require_source) and holds the workspace's lock and the
    target's run lock, so neither side changes meanwhile."""
    started = time.monotonic()
    with contextlib.closing(_read_only(source)) as reading:
        tables = _source_tables(source, reading)
        before = _require_empty(target)
        try:
            open_store(target, read_only=False)  # ML Metadata creates its tables for this library version
            _require_same_version(source, reading, target)
            copied = _copy_rows(reading, tables, target)
        except BaseException:
            _drop_created(target, before)
            raise
    return {
        "source": source.describe(),
        "target": target.describe(),
        "tables": copied,
        "rows": sum(copied.values()),
        "seconds": round(time.monotonic() - started, 2),
    }


def require_source(source: SqliteLocation) -> None:
    """Refuses a workspace with no store before any lock is taken on the target (which makes a table)."""
    if not source.path.is_file():
        raise CopyRefusedError(
            f"{source.path}: no ML Metadata store, so nothing to copy; expected the metadata.sqlite that "
            "`penguins run` writes in the workspace (check --workspace)"
        )


def _read_only(source: SqliteLocation) -> sqlite3.Connection:
    return sqlite3.connect(f"{source.path.resolve().as_uri()}?mode=ro", uri=True)


def _source_tables(source: SqliteLocation, reading: sqlite3.Connection) -> list[str]:
    """ML Metadata's tables in the file, or a refusal naming it when it is not a store."""
    try:
        tables = [name for (name,) in reading.execute(_TABLES)]
    except sqlite3.DatabaseError as error:
        raise CopyRefusedError(
            f"{source.path}: not a readable SQLite file ({error}); expected the ML Metadata store that "
            "`penguins run` writes in the workspace"
        ) from None
    if STORE_MARKER_TABLE not in tables:
        raise CopyRefusedError(
            f"{source.path}: no {STORE_MARKER_TABLE} table, so not an ML Metadata store; expected the one "
            "that `penguins run` writes in the workspace"
        )
    return tables


def _require_empty(target: MysqlLocation) -> set[str]:
    """The target's tables, all empty; refuses a store or any rows (the run lock's own holder aside)."""
    with connection(target) as opened, opened.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        existing = {name for (name,) in cursor.fetchall()}
        if STORE_MARKER_TABLE in existing:
            raise CopyRefusedError(
                f"{target.describe()} already holds an ML Metadata store; the copy needs an empty database "
                "(create a new one, or drop this one's tables if nothing uses them)"
            )
        holding_rows = []
        for name in sorted(existing - {HOLDERS_TABLE}):
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM `{name}`)")
            if cursor.fetchone()[0]:
                holding_rows.append(name)
        if holding_rows:
            raise CopyRefusedError(
                f"{target.describe()} is not empty (rows in {', '.join(holding_rows)}); the copy needs an "
                "empty database (create a new one)"
            )
    return existing


def _require_same_version(source: SqliteLocation, reading: sqlite3.Connection, target: MysqlLocation) -> None:
    """Rows fit only the schema that wrote them; ML Metadata made the target's for its own version."""
    (source_version,) = reading.execute(f"SELECT schema_version FROM {STORE_MARKER_TABLE}").fetchone()
    with connection(target) as opened, opened.cursor() as cursor:
        cursor.execute(f"SELECT schema_version FROM {STORE_MARKER_TABLE}")
        (target_version,) = cursor.fetchone()
    if source_version != target_version:
        raise CopyRefusedError(
            f"{source.path} has ML Metadata schema version {source_version}, but this installation's "
            f"ML Metadata writes version {target_version}; copy it with the penguins version that last "
            "ran on the workspace"
        )


def _copy_rows(reading: sqlite3.Connection, tables: list[str], target: MysqlLocation) -> dict[str, int]:
    """Every row of every table, ids included, committed only once each table's count matches."""
    copied = {}
    with connection(target) as opened, opened.cursor() as cursor:
        opened.begin()
        for table in tables:
            try:
                copied[table] = _copy_table(reading, table, cursor)
            except pymysql.err.MySQLError as error:
                raise MetadataStoreError(
                    f"Copy to {target.describe()} failed in table {table}: {error.args[-1]}; the target was "
                    "left empty, so fix the cause and copy again"
                ) from None
        for table, rows in copied.items():
            cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
            (found,) = cursor.fetchone()
            if found != rows:
                raise MetadataStoreError(
                    f"Copy to {target.describe()}: table {table} holds {found} rows after copying {rows}; "
                    "the target was left empty, so copy again"
                )
        opened.commit()
    return copied


def _copy_table(reading: sqlite3.Connection, table: str, cursor) -> int:
    """One table's rows, in batches; the rows ML Metadata seeded there are replaced by the source's."""
    columns = [column for (_, column, *_) in reading.execute(f"PRAGMA table_info(`{table}`)")]
    listed = ", ".join(f"`{column}`" for column in columns)
    insert = f"INSERT INTO `{table}` ({listed}) VALUES ({', '.join(['%s'] * len(columns))})"
    cursor.execute(f"DELETE FROM `{table}`")
    rows = reading.execute(f"SELECT {listed} FROM `{table}`")
    count = 0
    while batch := rows.fetchmany(BATCH_ROWS):
        cursor.executemany(insert, batch)
        count += len(batch)
    return count


def _drop_created(target: MysqlLocation, before: set[str]) -> None:
    """Drops the tables the copy made, so the database is as empty as it was and a retry can start."""
    try:
        with connection(target) as opened, opened.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            created = sorted({name for (name,) in cursor.fetchall()} - before)
            if created:
                cursor.execute(f"DROP TABLE {', '.join(f'`{name}`' for name in created)}")
    except (MetadataStoreError, pymysql.err.MySQLError) as error:
        raise MetadataStoreError(
            f"Copy to {target.describe()} failed, and the tables it made could not be dropped ({error}); "
            f"drop every table but {HOLDERS_TABLE} there before copying again"
        ) from None
