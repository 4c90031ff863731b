"""One line per component as it finishes, with its status and duration.

TFX's runners announce each node through absl logging and record whether the launcher ran a new
execution or reused a cached one. Listening to those records gives live progress without
patching the runners, for both LocalDagRunner and BeamDagRunner.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

_STARTED = {"Component %s is running.", "node %s is running."}
_FINISHED = {"Component %s is finished.", "node %s is finished."}
_CACHED = "A cached execution %d is used."
_EXECUTED = "Going to run a new execution %d"
_SKIPPED = "Skipping execution for %s"


@dataclasses.dataclass
class ComponentResult:
    name: str
    status: str
    seconds: float


class ProgressReporter(logging.Handler):
    """Collects per-component results from TFX's log records and prints each one as it ends."""

    def __init__(self, emit_line: Callable[[str], None]):
        super().__init__(level=logging.INFO)
        self._emit_line = emit_line
        self._lock = threading.Lock()
        self._running: dict[int, tuple[str, float, str]] = {}
        self.results: list[ComponentResult] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.msg
        if not isinstance(message, str):
            return
        with self._lock:
            if message in _STARTED:
                self._running[record.thread] = (str(record.args[0]), time.monotonic(), "done")
            elif message in _FINISHED:
                self._finish(record.thread)
            elif record.thread in self._running:
                name, started, _ = self._running[record.thread]
                status = {_CACHED: "cached", _EXECUTED: "ran", _SKIPPED: "skipped"}.get(message)
                if status:
                    self._running[record.thread] = (name, started, status)

    def _finish(self, thread: int, status: str | None = None) -> None:
        name, started, recorded = self._running.pop(thread)
        result = ComponentResult(name, status or recorded, time.monotonic() - started)
        self.results.append(result)
        self._emit_line(f"  {result.name:<32} {result.status:<8} {result.seconds:6.1f}s")

    def fail_running(self) -> None:
        """Reports every component still running as failed; called when the run raised."""
        with self._lock:
            for thread in list(self._running):
                self._finish(thread, "FAILED")
