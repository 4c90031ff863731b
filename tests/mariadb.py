"""A real MariaDB server from Debian's `mariadb-server`, started by a test on loopback.

Each server has its own data folder and a free port, so tests never touch a system database and
leave nothing running: `stop()` ends the server and the folder goes with the test's tmp_path.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import free_port

ADMIN_USER, ADMIN_PASSWORD = "admin", "admin-secret"
MISSING = "mariadbd and mariadb-install-db are not on PATH; install Debian's mariadb-server (.ci/run does)"


def _program(name: str) -> str | None:
    """Debian installs the server in /usr/sbin, which a non-login shell's PATH may leave out."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")


def mariadb_available() -> bool:
    return all(_program(name) for name in ("mariadbd", "mariadb-install-db", "mariadb"))


class MariaDB:
    """One server; `database()` makes a database and a user with every right on it, and returns its URL."""

    STARTUP_SECONDS = 60

    def __init__(self, folder: Path):
        if not mariadb_available():
            pytest.skip(MISSING)
        self.folder = folder
        self.port = free_port()
        self.data = folder / "data"
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                _program("mariadb-install-db"), "--no-defaults", f"--datadir={self.data}", "--user=root",
                "--auth-root-authentication-method=socket", "--skip-test-db",
            ],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        self.start()
        self.sql(
            f"CREATE USER '{ADMIN_USER}'@'%' IDENTIFIED BY '{ADMIN_PASSWORD}'; "
            f"GRANT ALL ON *.* TO '{ADMIN_USER}'@'%' WITH GRANT OPTION;"
        )

    def start(self) -> None:
        """Starts the server on its data folder and port (again, after `stop`), once it answers."""
        self.log = (self.folder / "server.log").open("a")
        folder = self.folder
        self.process = subprocess.Popen(
            [
                _program("mariadbd"), "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
                "--bind-address=127.0.0.1", f"--socket={folder / 'mysqld.sock'}",
                f"--pid-file={folder / 'mysqld.pid'}", "--user=root", "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M", "--character-set-server=utf8mb4",
            ],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}; see {self.log.name}")
            if self.sql("SELECT 1", check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not answer within {self.STARTUP_SECONDS} s; see {self.log.name}")

    def sql(self, statements: str, database: str = "", check: bool = True) -> subprocess.CompletedProcess:
        """Runs statements as root over the server's socket; output is tab-separated, without headers."""
        return subprocess.run(
            [_program("mariadb"), "--no-defaults", f"--socket={self.folder / 'mysqld.sock'}", "-uroot",
             "-N", "-B", "-e", statements, *([database] if database else [])],
            capture_output=True, text=True, check=check,
        )  # fmt: skip

    def url(self, database: str, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> str:
        auth = f"{user}:{password}" if password else user
        return f"mysql://{auth}@127.0.0.1:{self.port}/{database}"

    def database(self, name: str, user: str | None = None, password: str = "secret") -> str:
        """A new empty database; with `user`, a user with every right on it alone. Returns its URL."""
        self.sql(f"CREATE DATABASE `{name}`")
        if user is None:
            return self.url(name)
        self.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        self.sql(f"GRANT ALL ON `{name}`.* TO '{user}'@'%'")
        return self.url(name, user, password)

    def tables(self, database: str) -> set[str]:
        return set(self.sql("SHOW TABLES", database).stdout.split())

    def count(self, database: str, table: str) -> int:
        return int(self.sql(f"SELECT COUNT(*) FROM `{table}`", database).stdout.strip())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
