"""One pipeline run at a time per shared metadata store, across machines.

A file lock guards one machine's workspace. Machines sharing a MySQL store need a lock that the
server holds: `GET_LOCK`, taken on a connection kept open for the whole run. The server releases it
when that connection ends, however the holder ends (`kill -9` included), so a crash never leaves a
stale lock. Who holds it is recorded in a small table beside ML Metadata's, so that the refusal can
name the command, its machine and its pid, as the file lock's does.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import socket
from collections.abc import Iterator

import pymysql

from pipeline.config.metadata_location import MysqlLocation
from pipeline.metadata.server import connection

HOLDERS_TABLE = "penguins_run_lock"
# MariaDB's longest wait_timeout: the lock's connection idles for a whole run and must not be dropped.
IDLE_SECONDS = 31536000
_NAME_LIMIT = 64  # the servers' longest lock name


class StoreBusyError(RuntimeError):
    """Another command, perhaps on another machine, is running a pipeline on the same store."""


def holder_record(command: str) -> dict:
    """What a lock says about its holder: the command, its machine and pid, and when it started."""
    started = datetime.datetime.now().isoformat(timespec="seconds")
    return {"command": command, "pid": os.getpid(), "host": socket.gethostname(), "started": started}


def describe_holder(holder: dict | None) -> str:
    try:
        on_host = f" on {holder['host']}" if holder.get("host") else ""
        return f"'penguins {holder['command']}' (pid {holder['pid']}{on_host}, started {holder['started']})"
    except (KeyError, TypeError, AttributeError):
        return "another penguins command"


def lock_name(location: MysqlLocation, pipeline_name: str) -> str:
    """Server-wide lock names are shared by every database: this one names the database and pipeline."""
    name = f"penguins:{location.database}:{pipeline_name}"
    return name if len(name) <= _NAME_LIMIT else f"penguins:{hashlib.sha256(name.encode()).hexdigest()[:48]}"


@contextlib.contextmanager
def store_lock(location: MysqlLocation, pipeline_name: str, command: str) -> Iterator[None]:
    """Holds the store's run lock for the block, or raises StoreBusyError naming the holder."""
    name = lock_name(location, pipeline_name)
    with connection(location) as opened, opened.cursor() as cursor:
        cursor.execute(f"SET SESSION wait_timeout = {IDLE_SECONDS}")
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {HOLDERS_TABLE} "
            "(name VARCHAR(64) PRIMARY KEY, connection_id BIGINT NOT NULL, holder TEXT NOT NULL)"
        )
        cursor.execute("SELECT GET_LOCK(%s, 0)", (name,))
        if cursor.fetchone()[0] != 1:
            holder = describe_holder(_holder(cursor, name))
            raise StoreBusyError(
                f"Metadata store {location.describe()} is in use by {holder}. Only one pipeline runs per "
                "metadata store at a time; wait for it to finish and try again."
            )
        cursor.execute(
            f"REPLACE INTO {HOLDERS_TABLE} VALUES (%s, CONNECTION_ID(), %s)",
            (name, json.dumps(holder_record(command))),
        )
        try:
            yield
        finally:
            with contextlib.suppress(pymysql.err.MySQLError):  # a lost connection released the lock already
                cursor.execute(f"DELETE FROM {HOLDERS_TABLE} WHERE name = %s", (name,))
                cursor.execute("SELECT RELEASE_LOCK(%s)", (name,))


def store_holder(location: MysqlLocation, pipeline_name: str) -> dict | None:
    """The command holding the store's run lock now, or None when it is free."""
    with connection(location) as opened, opened.cursor() as cursor:
        name = lock_name(location, pipeline_name)
        cursor.execute("SELECT IS_USED_LOCK(%s)", (name,))
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SHOW TABLES LIKE '{HOLDERS_TABLE}'")
        recorded = _holder(cursor, name) if cursor.fetchone() else None
        return recorded or {"command": "unknown", "pid": None, "started": None}


def _holder(cursor, name: str) -> dict | None:
    """The recorded holder of a taken lock; a row left by a holder that died is not its holder."""
    cursor.execute(
        f"SELECT holder FROM {HOLDERS_TABLE} WHERE name = %s AND connection_id = IS_USED_LOCK(name)", (name,)
    )
    row = cursor.fetchone()
    return json.loads(row[0]) if row else None
