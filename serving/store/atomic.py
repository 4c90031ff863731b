"""Files and folders that appear whole or not at all.

A reader (a model server polling a folder, the next run reading a record) must never see a
half-written file, even if the writer is killed mid-write: write under a hidden temporary name in
the same folder, then rename, which the file system does atomically. Every such write in the
project goes through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO]:
    """A file to stream into; it replaces `path` only when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with partial.open(mode, **open_args) as handle:
            yield handle
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@contextlib.contextmanager
def staged_directory(path: Path) -> Iterator[Path]:
    """A hidden folder to fill (not yet created); renamed to `path` only when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".staging-{path.name}-{os.getpid()}")
    try:
        yield staging
        os.rename(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_bytes_atomically(path: Path, content: bytes) -> Path:
    with atomic_file(path, "wb") as handle:
        handle.write(content)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    return write_bytes_atomically(path, text.encode())


def write_json_atomically(path: Path, value: Any) -> Path:
    return write_text_atomically(path, json.dumps(value, indent=2) + "\n")
