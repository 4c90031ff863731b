"""One pipeline at a time per workspace.

Two runs writing one metadata store and one model folder at once could interleave pushes and
baselines. `penguins run`, `retrain` and `rollback` hold an exclusive lock on the workspace; the
operating system releases it when the holder exits, however it exits, so a crash never leaves a
stale lock behind. With a MySQL metadata store, shared by other machines, the holder also takes the
store's lock on the server (pipeline/metadata/run_lock.py).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from collections.abc import Iterator
from pathlib import Path

from pipeline.config.metadata_location import MetadataLocation, MysqlLocation
from pipeline.metadata.run_lock import describe_holder, holder_record, store_holder, store_lock
from pipeline.metadata.server import require_write_rights

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
            holder = describe_holder(_parsed(handle.read()))
            raise WorkspaceBusyError(
                f"{workspace_root} is in use by {holder}. Only one pipeline runs per workspace at a "
                "time; wait for it to finish and try again."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder_record(command)))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


@contextlib.contextmanager
def run_lock(
    workspace_root: Path, location: MetadataLocation, pipeline_name: str, command: str
) -> Iterator[None]:
    """The workspace's lock and, for a store other machines share, the store's lock on its server."""
    with workspace_lock(workspace_root, command):
        if isinstance(location, MysqlLocation):
            require_write_rights(location)
            with store_lock(location, pipeline_name, command):
                yield
        else:
            yield


def running_holder(workspace_root: Path, location: MetadataLocation, pipeline_name: str) -> dict | None:
    """The command running a pipeline on this workspace or its store now, or None."""
    holder = current_holder(workspace_root)
    if holder is None and isinstance(location, MysqlLocation):
        holder = store_holder(location, pipeline_name)
    return holder


def current_holder(workspace_root: Path) -> dict | None:
    """The command holding the workspace now ({"command", "pid", "started"}), or None when it is free."""
    path = workspace_root / LOCK_FILE
    if not path.is_file():
        return None
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _parsed(handle.read()) or {"command": "unknown", "pid": None, "started": None}
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _parsed(text: str) -> dict | None:
    try:
        return json.loads(text)
    except ValueError:
        return None
