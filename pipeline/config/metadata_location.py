"""Where ML Metadata lives: a SQLite file in the workspace, or a MySQL-compatible server.

SQLite is right for one machine and stays the default. Once the pipeline, the retrainer and the
monitor run on separate machines or containers they must share one store, which is a database
server: `PENGUINS_METADATA=mysql://USER:PASSWORD@HOST:PORT/DATABASE`, or `metadata:` in the
config file (the variable wins). The password may instead come from the file named by
`PENGUINS_METADATA_PASSWORD_FILE`, so that it is not on a command line or in `ps`. A location is
described without its password wherever it is printed.
"""

from __future__ import annotations

import dataclasses
import os
import re
import urllib.parse
from pathlib import Path

METADATA_VARIABLE = "PENGUINS_METADATA"
PASSWORD_FILE_VARIABLE = "PENGUINS_METADATA_PASSWORD_FILE"
MYSQL_SCHEME = "mysql"
DEFAULT_MYSQL_PORT = 3306
EXPECTED_FORM = "mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
# ML Metadata names the database unquoted in its SQL, so only plain identifiers work.
PLAIN_NAME = re.compile(r"[A-Za-z0-9_]+")


class MetadataLocationError(ValueError):
    """The configured metadata store is not a location this project can use; says where it was set."""


@dataclasses.dataclass(frozen=True)
class SqliteLocation:
    """The workspace's own store: one file, locked by the workspace lock."""

    path: Path

    def describe(self) -> str:
        return str(self.path)

    def connection_config(self, read_only: bool = False):
        from ml_metadata.proto import metadata_store_pb2

        config = metadata_store_pb2.ConnectionConfig()
        config.sqlite.filename_uri = str(self.path)
        config.sqlite.connection_mode = (
            metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
            if read_only
            else metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
        )
        return config


@dataclasses.dataclass(frozen=True)
class MysqlLocation:
    """A database on a MySQL-compatible server (MySQL 8, MariaDB), shared by every machine using it."""

    host: str
    port: int
    database: str
    user: str
    password: str = dataclasses.field(default="", repr=False)

    def describe(self) -> str:
        """The location as people read it: never with the password."""
        return f"{MYSQL_SCHEME}://{self.user}@{self.host}:{self.port}/{self.database}"

    def connection_config(self, read_only: bool = False):
        """ML Metadata's MySQL connection; the database must exist (ML Metadata would otherwise create
        it, and a mistyped name would quietly become a new, empty store)."""
        from ml_metadata.proto import metadata_store_pb2

        del read_only  # a server enforces rights per user, not per connection
        config = metadata_store_pb2.ConnectionConfig()
        config.mysql.host = self.host
        config.mysql.port = self.port
        config.mysql.database = self.database
        config.mysql.user = self.user
        config.mysql.password = self.password
        config.mysql.skip_db_creation = True
        return config


MetadataLocation = SqliteLocation | MysqlLocation


def parse_mysql_url(url: str, where: str, password_file: str | None = None) -> MysqlLocation:
    """A `mysql://` URL as a location; `where` names what set it (a variable, a file's key, a flag)."""
    parts = urllib.parse.urlsplit(url)
    problem = None
    try:
        port = parts.port or DEFAULT_MYSQL_PORT
    except ValueError:
        port, problem = None, "the port is not a number from 1 to 65535"
    database = parts.path.removeprefix("/")
    if parts.scheme != MYSQL_SCHEME:
        problem = f"the scheme is '{parts.scheme or 'none'}', not '{MYSQL_SCHEME}'"
    elif not parts.hostname:
        problem = problem or "no host"
    elif not parts.username:
        problem = "no user"
    elif not database or "/" in database:
        problem = "no database name after the host"
    elif not PLAIN_NAME.fullmatch(database):
        problem = f"database name '{database}' has characters other than letters, digits and _"
    elif parts.query or parts.fragment:
        problem = "options after the database name are not supported"
    if problem:
        raise MetadataLocationError(f"{where}: {problem}; expected {EXPECTED_FORM}, found '{_redacted(url)}'")
    password = urllib.parse.unquote(parts.password or "")
    if password_file:
        if password:
            raise MetadataLocationError(
                f"{where} holds a password and {PASSWORD_FILE_VARIABLE} names a file: give the password in "
                "one place"
            )
        password = _read_password(Path(password_file))
    return MysqlLocation(
        host=parts.hostname,
        port=port,
        database=urllib.parse.unquote(database),
        user=urllib.parse.unquote(parts.username),
        password=password,
    )


def resolve_location(configured: str | None, config_path: Path, sqlite_path: Path) -> MetadataLocation:
    """The store a command uses: the variable, else the config file's `metadata:`, else the workspace's
    SQLite file. A MySQL location never falls back to SQLite."""
    from_environment = os.environ.get(METADATA_VARIABLE, "").strip()
    url, where = (
        (from_environment, METADATA_VARIABLE)
        if from_environment
        else (configured, f"{config_path}: key 'metadata'")
    )
    if not url:
        return SqliteLocation(sqlite_path)
    return parse_mysql_url(url, where, password_file())


def password_file() -> str | None:
    """The file `PENGUINS_METADATA_PASSWORD_FILE` names, for every `mysql://` URL a command is given."""
    return os.environ.get(PASSWORD_FILE_VARIABLE, "").strip() or None


def _read_password(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as error:
        raise MetadataLocationError(
            f"{PASSWORD_FILE_VARIABLE}: cannot read {path} ({error.strerror}); expected a file holding the "
            "metadata database's password"
        ) from None


def _redacted(url: str) -> str:
    """The URL with any password replaced, for error messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
