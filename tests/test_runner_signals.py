"""A stop signal ends a run even when code in its way catches the exception it raises."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pipeline.run.runner import RERAISE_SECONDS, RunInterruptedError, stop_signals_raise_interrupted


def test_a_stop_signal_raises_interrupted_and_the_handlers_are_restored():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(RunInterruptedError, match="Stopped by SIGTERM"), stop_signals_raise_interrupted():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
    assert signal.getsignal(signal.SIGTERM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_stop_that_a_library_swallows_is_raised_again():
    swallowed = []
    started = time.monotonic()
    with pytest.raises(RunInterruptedError, match="Stopped by SIGINT"), stop_signals_raise_interrupted():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)
        except Exception as error:  # a library that catches everything and goes on
            swallowed.append(error)
        time.sleep(10)
    assert swallowed and isinstance(swallowed[0], RunInterruptedError)
    assert time.monotonic() - started < RERAISE_SECONDS + 5
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_run_that_finishes_without_a_signal_leaves_no_timer():
    with stop_signals_raise_interrupted():
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
