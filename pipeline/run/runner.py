"""Runs a built pipeline with TFX's local or Beam orchestrator, reporting progress as it goes."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable

from absl import logging as absl_logging

from pipeline.run.progress import ComponentResult, ProgressReporter
from pipeline.run.worker_dependencies import workers_use_this_environment

RUNNERS = ("local", "beam")


class RunInterruptedError(Exception):
    """A stop signal arrived mid-run.

    An Exception, unlike KeyboardInterrupt, so that TFX's launcher records the running component's
    execution as FAILED in the metadata store instead of leaving it RUNNING for ever.
    """

    def __init__(self, signum: int):
        super().__init__(
            f"Stopped by {signal.Signals(signum).name}: the interrupted component is recorded as failed "
            "in the metadata store, nothing was pushed, and the served model is unchanged."
        )


# A stop raised into code that catches every exception and goes on is raised again this often.
RERAISE_SECONDS = 2.0


@contextlib.contextmanager
def stop_signals_raise_interrupted():
    """SIGINT and SIGTERM raise RunInterruptedError; a second one acts as usual, to force a stop.

    The error is raised wherever the main thread is, and code there may catch every exception
    and go on: once, under load, a SIGTERM was lost that way and the run finished as if never
    stopped. So after the first stop signal a timer raises it again every RERAISE_SECONDS
    until the run has left this block. Raised inside TensorFlow's C++ code, the exception can
    come back wrapped in another one; what leaves this block after a stop signal is always
    RunInterruptedError.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in (*stop_signals, signal.SIGALRM)}
    received = []

    def raise_again(_signum, _frame):
        raise RunInterruptedError(received[0])

    def interrupt(signum, _frame):
        for each in stop_signals:
            signal.signal(each, previous[each])
        received.append(signum)
        signal.signal(signal.SIGALRM, raise_again)
        signal.setitimer(signal.ITIMER_REAL, RERAISE_SECONDS, RERAISE_SECONDS)
        raise RunInterruptedError(signum)

    for signum in stop_signals:
        signal.signal(signum, interrupt)
    try:
        yield
    except Exception as error:
        if received and not isinstance(error, RunInterruptedError):
            raise RunInterruptedError(received[0]) from error
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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
        with stop_signals_raise_interrupted(), workers_use_this_environment():
            orchestrator.run(tfx_pipeline)
    except BaseException:
        reporter.fail_running()
        raise
    finally:
        root.removeHandler(reporter)
    return reporter.results
