"""Runs a built pipeline with TFX's local or Beam orchestrator, reporting progress as it goes."""

from __future__ import annotations

import logging
from collections.abc import Callable

from absl import logging as absl_logging

from pipeline.progress import ComponentResult, ProgressReporter

RUNNERS = ("local", "beam")


def _orchestrator(runner: str):
    if runner == "local":
        from tfx.orchestration.local.local_dag_runner import LocalDagRunner

        return LocalDagRunner()
    if runner == "beam":
        from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

        return BeamDagRunner()
    raise ValueError(f"unknown runner {runner!r}; expected one of {RUNNERS}")


def run_pipeline(tfx_pipeline, runner: str, emit_line: Callable[[str], None]) -> list[ComponentResult]:
    """Runs every component; raises what the failing component raised, after reporting it."""
    orchestrator = _orchestrator(runner)
    reporter = ProgressReporter(emit_line)
    absl_logging.set_verbosity(absl_logging.INFO)
    root = logging.getLogger()
    root.addHandler(reporter)
    try:
        orchestrator.run(tfx_pipeline)
    except BaseException:
        reporter.fail_running()
        raise
    finally:
        root.removeHandler(reporter)
    return reporter.results
