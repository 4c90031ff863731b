"""Files that appear whole or not at all.

A reader (a model server polling a folder, the next run reading a record) must never see a
half-written file, even if the writer is killed mid-write: write to a temporary name in the same
folder, then rename, which the file system does atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_bytes_atomically(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(content)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    return write_bytes_atomically(path, text.encode())


def write_json_atomically(path: Path, value: Any) -> Path:
    return write_text_atomically(path, json.dumps(value, indent=2) + "\n")
