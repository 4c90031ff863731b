"""Talks to a MySQL-compatible metadata server directly, for what ML Metadata does not say clearly.

ML Metadata reports a server that is down and a wrong password alike as `mysql_real_connect
failed: errno: , error:` and logs a paragraph about MySQL 8 authentication. So before ML Metadata
connects, this module connects itself (PyMySQL, a few seconds at most) and turns each failure into
one line naming the host, port and database and what to do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pymysql

from pipeline.config.metadata_location import MysqlLocation

CONNECT_TIMEOUT_SECONDS = 5
# The table ML Metadata creates first and reads its schema version from: its presence means a store.
STORE_MARKER_TABLE = "MLMDEnv"
# What ML Metadata needs to create its tables in an empty database, then to record runs.
WRITE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "INDEX")

_CANNOT_CONNECT = {2003, 2005, 2006, 2013}  # refused, unknown host, gone away, lost during connect
_ACCESS_DENIED = 1045
_DATABASE_DENIED = 1044
_UNKNOWN_DATABASE = 1049


class MetadataStoreError(RuntimeError):
    """The metadata store cannot be used; the message names it and says what to check."""


@contextlib.contextmanager
def connection(location: MysqlLocation, **options) -> Iterator[pymysql.connections.Connection]:
    """A connection to the location's database, or a MetadataStoreError that says why not."""
    try:
        opened = pymysql.connect(
            host=location.host,
            port=location.port,
            user=location.user,
            password=location.password,
            database=location.database,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            autocommit=True,
            **options,
        )
    except pymysql.err.MySQLError as error:
        raise MetadataStoreError(_explain(location, error)) from None
    try:
        _require_plain_name(opened, location)
        yield opened
    finally:
        opened.close()


def _require_plain_name(opened, location: MysqlLocation) -> None:
    """ML Metadata switches to the database without quoting its name: a reserved word (`loop`,
    `order`) connects here but fails inside ML Metadata with a bare SQL syntax error."""
    try:
        with opened.cursor() as cursor:
            cursor.execute(f"USE {location.database}")  # a plain identifier (metadata_location.py)
    except pymysql.err.ProgrammingError:
        raise MetadataStoreError(
            f"Metadata store {location.describe()}: ML Metadata cannot use a database named "
            f"'{location.database}', a reserved word on {location.host}:{location.port}; choose another name"
        ) from None


def _explain(location: MysqlLocation, error: pymysql.err.MySQLError) -> str:
    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    where = f"Metadata store {location.describe()}"
    if code in _CANNOT_CONNECT:
        return (
            f"{where}: no MySQL server answers at {location.host}:{location.port} within "
            f"{CONNECT_TIMEOUT_SECONDS} s; start it, or check the host and port in PENGUINS_METADATA"
        )
    if code == _ACCESS_DENIED:
        return (
            f"{where}: the server at {location.host}:{location.port} refused user '{location.user}' "
            "(wrong password or unknown user); check the password or PENGUINS_METADATA_PASSWORD_FILE"
        )
    if code == _UNKNOWN_DATABASE:
        return (
            f"{where}: database '{location.database}' does not exist on {location.host}:{location.port}; "
            f"create it first (CREATE DATABASE `{location.database}`)"
        )
    if code == _DATABASE_DENIED:
        return (
            f"{where}: user '{location.user}' has no rights on database '{location.database}' at "
            f"{location.host}:{location.port} (or it does not exist); "
            f"GRANT ALL ON `{location.database}`.* TO '{location.user}'"
        )
    return f"{where}: {error.args[-1] if error.args else error}"


def holds_store(location: MysqlLocation) -> bool:
    """Whether ML Metadata has made its tables in the database (a run has recorded something)."""
    with connection(location) as opened, opened.cursor() as cursor:
        return _has_store_tables(cursor)


def _has_store_tables(cursor) -> bool:
    cursor.execute("SHOW TABLES LIKE %s", (STORE_MARKER_TABLE,))
    return cursor.fetchone() is not None


def require_write_rights(location: MysqlLocation) -> None:
    """Refuses a user who may read the database but not record runs in it, before a run starts."""
    with connection(location) as opened, opened.cursor() as cursor:
        cursor.execute(
            "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES UNION "
            "SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES WHERE TABLE_SCHEMA = %s",
            (location.database,),
        )
        granted = {row[0] for row in cursor.fetchall()}
    missing = [privilege for privilege in WRITE_PRIVILEGES if privilege not in granted]
    if missing:
        raise MetadataStoreError(
            f"Metadata store {location.describe()}: user '{location.user}' lacks {', '.join(missing)} on "
            f"database '{location.database}' at {location.host}:{location.port}, which recording runs needs; "
            f"GRANT ALL ON `{location.database}`.* TO '{location.user}'"
        )


def content_fingerprint(location: MysqlLocation) -> list:
    """What changes whenever a run records anything: the newest execution and artifact, and counts."""
    with connection(location) as opened, opened.cursor() as cursor:
        if not _has_store_tables(cursor):
            return []
        cursor.execute(
            "SELECT (SELECT COUNT(*) FROM Execution), (SELECT MAX(last_update_time_since_epoch) "
            "FROM Execution), (SELECT COUNT(*) FROM Artifact), (SELECT MAX(last_update_time_since_epoch) "
            "FROM Artifact)"
        )
        return [None if value is None else int(value) for value in cursor.fetchone()]
