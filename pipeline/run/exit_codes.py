"""Exit codes of the `penguins` command, and the result every command hands back.

Shared by every command and documented in docs/running.md. A command's work returns a
`CommandResult`, so that the CLI prints its outcome as JSON for scripts and `penguins schedule`,
never as sentences to be scraped.
"""

from __future__ import annotations

import dataclasses
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1  # a component failed (the served model unchanged), or predict found no server or was refused
EXIT_USAGE = 2  # bad arguments or config, or nothing to work on
EXIT_DATA_REJECTED = 3  # the data failed cleaning, filling both splits, the schema, or the drift check
EXIT_BUSY = 4  # another process holds the workspace or the port
# A quality dip whose retrain the data checks refused: the loop waits for a person (a schema
# review, accepting the drift) and keeps the labels for the next attempt.
EXIT_WAITING_FOR_REVIEW = 5
EXIT_INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM; recorded as failed, the served model unchanged

STATUS = {
    EXIT_OK: "completed",
    EXIT_FAILED: "failed",
    EXIT_USAGE: "usage_error",
    EXIT_DATA_REJECTED: "data_rejected",
    EXIT_BUSY: "busy",
    EXIT_WAITING_FOR_REVIEW: "waiting_for_review",
    EXIT_INTERRUPTED: "interrupted",
}


@dataclasses.dataclass
class CommandResult:
    """An exit code, and what happened as data for `--json`."""

    exit_code: int
    outcome: dict[str, Any] = dataclasses.field(default_factory=dict)
