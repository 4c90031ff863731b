"""Keeps TensorFlow, Beam and absl output off the terminal and in a log file.

TensorFlow's C++ runtime writes straight to file descriptor 2 and Keras prints to 1, so Python
logging handlers alone cannot silence them. While a run is captured, both descriptors point at
the log file and the user's messages go to a duplicate of the original stdout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def captured_output(log_path: Path) -> Iterator[TextIO]:
    """Redirects stdout, stderr and logging to `log_path`; yields a stream to the real terminal."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[1]), "w", buffering=1)
    log_file = open(log_path, "a", buffering=1)  # noqa: SIM115 - closed in finally
    root = logging.getLogger()
    handler = logging.StreamHandler(log_file)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    previous_level, previous_handlers = root.level, root.handlers[:]
    try:
        for fd in (1, 2):
            os.dup2(log_file.fileno(), fd)
        root.handlers = [handler]
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        root.handlers = previous_handlers
        root.setLevel(previous_level)
        logging.captureWarnings(False)
        log_file.close()
        terminal.close()
