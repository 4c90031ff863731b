"""Background processes of a local cluster: started detached, checked until ready, stopped whole.

Each process gets its own session (process group), so stopping it also stops what it started
(Spark's executors, the worker pool's SDK workers), and `penguins cluster down` leaves nothing
behind. Its pid file records what it runs, so a pid the system has given to another program
since is never signalled.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

STOP_GRACE_SECONDS = 20.0


class ClusterError(Exception):
    """A cluster process would not start or stop; the message names it, its port and its log."""


@dataclasses.dataclass(frozen=True)
class Service:
    """One process of a cluster: how to start it, and how to tell it is ready to work."""

    name: str
    argv: list[str]
    ready: Callable[[], bool]
    port: int | None  # the fixed port it listens on, checked free before it starts
    port_variable: str  # the environment variable that moves that port
    env: dict[str, str] = dataclasses.field(default_factory=dict)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((host, port)) == 0


def http_json(url: str, timeout: float = 2.0):
    """The JSON document at url, or None when nothing answers there yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.pid"


def running_pid(state_dir: Path, name: str) -> int | None:
    """The pid of the service if the process its pid file names still runs the same command."""
    try:
        record = json.loads(_pid_file(state_dir, name).read_text())
        command = Path(f"/proc/{record['pid']}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError, KeyError):
        return None
    return record["pid"] if command[: len(record["argv"])] == [a.encode() for a in record["argv"]] else None


def start(service: Service, state_dir: Path, timeout: float) -> int:
    """Starts the service unless it runs, and waits until it is ready; its output goes to NAME.log."""
    pid = running_pid(state_dir, service.name)
    if pid is not None:
        return pid
    if service.port is not None and port_in_use(service.port):
        raise ClusterError(
            f"{service.name}: port {service.port} is in use by another program; stop it, or set "
            f"{service.port_variable} to a free port"
        )
    log_path = state_dir / f"{service.name}.log"
    log_path.unlink(missing_ok=True)
    # Appending, as Flink's own logger does to the same file, so that neither overwrites the other.
    with log_path.open("a") as log:
        process = subprocess.Popen(
            service.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=state_dir,
            env={**os.environ, **service.env},
            start_new_session=True,
        )
    _pid_file(state_dir, service.name).write_text(json.dumps({"pid": process.pid, "argv": service.argv}))
    deadline = time.monotonic() + timeout
    while not service.ready():
        if process.poll() is not None:
            _pid_file(state_dir, service.name).unlink()
            raise ClusterError(
                f"{service.name} exited with code {process.returncode} while starting: "
                f"{_last_line(log_path)} (log: {log_path})"
            )
        if time.monotonic() > deadline:
            raise ClusterError(f"{service.name} was not ready after {timeout:.0f} s (log: {log_path})")
        time.sleep(0.5)
    return process.pid


def _last_line(log_path: Path) -> str:
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "Exception" in line or "Error" in line]
    return (errors or lines or ["no output"])[-1].strip()[:300]


def stop(state_dir: Path, name: str) -> bool:
    """Stops the service and everything it started; False if it was not running."""
    pid = running_pid(state_dir, name)
    _pid_file(state_dir, name).unlink(missing_ok=True)
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while _group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    _signal_group(pid, signal.SIGKILL)
    while _group_alive(pid):
        time.sleep(0.1)
    return True


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _group_alive(pid: int) -> bool:
    """Whether any process of the group is alive, zombies (our own exited children) aside."""
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pid and fields[0] != "Z":
            return True
    return False
