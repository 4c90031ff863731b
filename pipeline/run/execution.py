"""Runs a built pipeline for a person: a line per component, then what the run decided.

Shared by `penguins run` and `penguins retrain`, which differ only in the pipeline they build and
in what they do with the outcome.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import TextIO

from components.custom.validation_gate import DataValidationError
from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.reporting.history import history_entry
from pipeline.reporting.metadata import RunRecord, newest_run
from pipeline.reporting.summary import RunSummary, format_summary, summarize
from pipeline.run.abandoned import fail_interrupted
from pipeline.run.exit_codes import EXIT_DATA_REJECTED, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from pipeline.run.runner import RunInterruptedError, run_pipeline


@dataclasses.dataclass
class Outcome:
    exit_code: int
    record: RunRecord | None
    summary: RunSummary | None
    rejection: str | None = None
    error: str | None = None

    @functools.cached_property
    def entry(self) -> dict | None:
        """The run as `penguins history` shows it."""
        return history_entry(self.record, self.summary) if self.record else None

    def as_json(self) -> dict:
        return {"run": self.entry, "rejection": self.rejection, "error": self.error}


def _find_cause(error: BaseException, kind: type) -> BaseException | None:
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def execute(
    tfx_pipeline, settings: Settings, workspace: Workspace, runner: str, terminal: TextIO, log_path: Path
) -> Outcome:
    """Runs `tfx_pipeline`, printing to `terminal`; a rejection or failure is reported, not raised."""
    try:
        run_pipeline(tfx_pipeline, runner, lambda line: print(line, file=terminal))
    except RunInterruptedError as interrupted:
        fail_interrupted(settings, workspace, str(interrupted))
        print(f"\n{interrupted}", file=terminal)
        return Outcome(EXIT_INTERRUPTED, None, None, error=str(interrupted))
    except Exception as error:
        rejected = _find_cause(error, DataValidationError)
        record = newest_run(settings, workspace)
        summary = summarize(record) if record else None
        if rejected is not None:
            print(f"\nData rejected, nothing trained or pushed. {rejected}", file=terminal)
            return Outcome(EXIT_DATA_REJECTED, record, summary, rejection=str(rejected))
        failure = f"{type(error).__name__}: {error}"
        print(f"\nPipeline failed: {failure}\nSee {log_path}", file=terminal)
        return Outcome(EXIT_FAILED, record, summary, error=failure)
    record = newest_run(settings, workspace)
    summary = summarize(record)
    lines = format_summary(
        summary, settings.schema_path, settings.evaluation.min_accuracy, settings.evaluation.max_accuracy_drop
    )
    print("\n" + "\n".join(lines), file=terminal)
    return Outcome(EXIT_OK, record, summary)
