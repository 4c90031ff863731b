"""One pipeline at a time per workspace.

Two runs writing one metadata store and one model folder at once could interleave pushes and
baselines. `penguins run`, `retrain` and `rollback` hold an exclusive lock on the workspace; the
operating system releases it when the holder exits, however it exits, so a crash never leaves a
stale lock behind.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "pipeline.lock"


class WorkspaceBusyError(RuntimeError):
    """Another command holds the workspace; the message says which one and since when."""


@contextlib.contextmanager
def workspace_lock(workspace_root: Path, command: str) -> Iterator[None]:
    workspace_root.mkdir(parents=True, exist_ok=True)
    path = workspace_root / LOCK_FILE
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _describe(handle.read())
            raise WorkspaceBusyError(
                f"{workspace_root} is in use by {holder}. Only one pipeline runs per workspace at a "
                "time; wait for it to finish and try again."
            ) from None
        handle.seek(0)
        handle.truncate()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        handle.write(json.dumps({"command": command, "pid": os.getpid(), "started": started}))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def current_holder(workspace_root: Path) -> dict | None:
    """The command holding the workspace now ({"command", "pid", "started"}), or None when it is free."""
    path = workspace_root / LOCK_FILE
    if not path.is_file():
        return None
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(handle.read())
            except ValueError:
                return {"command": "unknown", "pid": None, "started": None}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _describe(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"'penguins {holder['command']}' (pid {holder['pid']}, started {holder['started']})"
    except (ValueError, KeyError, TypeError):
        return "another penguins command"
