"""Runs `penguins retrain` on a schedule in one long-lived process (`penguins schedule`).

APScheduler keeps the clock; each retrain runs as a child process, so a crash, a memory leak in
TensorFlow or a hung Beam worker ends with that run and never with the scheduler. Every run's
outcome is logged in one line; the child's own output goes to the schedule log file.
SIGTERM (as `docker stop` sends) stops the schedule and the running retrain, and exits 0; a
stopped retrain pushes nothing and records its interrupted component as failed.
"""

from __future__ import annotations

import datetime
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pipeline.config.workspace import Workspace
from pipeline.run.exit_codes import (
    EXIT_BUSY,
    EXIT_DATA_REJECTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    EXIT_WAITING_FOR_REVIEW,
)

logger = logging.getLogger("penguins.schedule")
_STOP_GRACE_SECONDS = 30
_EXIT_MEANINGS = {
    EXIT_OK: "finished",
    EXIT_DATA_REJECTED: "data rejected",
    EXIT_WAITING_FOR_REVIEW: "waiting for a person",
    EXIT_BUSY: "skipped (workspace busy)",
    EXIT_USAGE: "could not start",
    EXIT_INTERRUPTED: "stopped",
}


def describe_outcome(output: str) -> str:
    """One line from the JSON outcome that `penguins retrain --json` prints on stdout."""
    try:
        outcome = json.loads(output)
    except ValueError:
        return "no outcome was reported; see the schedule log"
    if outcome.get("no_new_data"):
        return f"no new data since span {outcome['newest_span']}"
    if outcome.get("exit_code") == EXIT_WAITING_FOR_REVIEW:
        return outcome["message"]
    if outcome.get("retrained") is False:
        monitored = outcome["monitor"]
        return f"no retrain, monitor decided {monitored['decision']}: {monitored['reason']}"
    run = outcome.get("run")
    if not run:
        return outcome.get("error") or outcome.get("rejection") or "no run was recorded"
    parts = [f"run {run['run_id']}", f"span {run['newest_span']}"]
    if outcome.get("rejection"):
        parts.append("data rejected: " + outcome["rejection"].replace("\n", " "))
    elif run["blessed"] is None:
        parts.append(outcome.get("error") or "not evaluated")
    elif not run["blessed"]:
        parts.append("not blessed: " + "; ".join(run["not_blessed_because"]))
    parts.append(_pushed(run, outcome.get("served_version")))
    return ", ".join(parts)


def _pushed(run: dict, served: int | None) -> str:
    if run["pushed_version"] and not run["already_served"]:
        return f"pushed version {run['pushed_version']}"
    return f"nothing pushed, version {served} still served" if served else "nothing pushed"


class RetrainJob:
    """One retrain at a time, as a child process that a stop request can end."""

    def __init__(self, command: list[str], log_path: Path):
        self._command = command
        self._log_path = log_path
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._stopping = False

    def __call__(self) -> None:
        started = time.monotonic()
        with self._lock:
            if self._stopping:
                return
            with self._log_path.open("a") as log:
                log.write(f"\n=== {datetime.datetime.now().isoformat(timespec='seconds')} retrain ===\n")
            self._child = subprocess.Popen(
                self._command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        output, messages = self._child.communicate()
        code = self._child.returncode
        with self._log_path.open("a") as log:
            log.write(messages)
        meaning = _EXIT_MEANINGS.get(
            code, f"FAILED (exit {code})" if code > 0 else f"stopped (signal {-code})"
        )
        logger.info("retrain %s in %.0fs: %s", meaning, time.monotonic() - started, describe_outcome(output))

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            child = self._child
        if child is not None and child.poll() is None:
            logger.info("stopping the running retrain (pid %d)", child.pid)
            child.terminate()
            try:
                child.wait(_STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()


def run_schedule(trigger, when: str, command: list[str], workspace: Workspace) -> None:
    """Runs `command` at each fire of `trigger` until SIGTERM or SIGINT, logging one line per run."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
    from apscheduler.schedulers.background import BackgroundScheduler

    workspace.create()
    log_path = workspace.log_dir / "schedule.log"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout, force=True)
    # APScheduler's own warnings are replaced by the lines the listeners below write.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    job = RetrainJob(command, log_path)
    scheduler = BackgroundScheduler()
    # One retrain at a time: a fire due while one runs is skipped (and logged); fires missed while
    # the process was suspended (a sleeping laptop) are merged into one.
    scheduler.add_job(job, trigger, id="retrain", max_instances=1, coalesce=True, misfire_grace_time=None)
    scheduler.add_listener(
        lambda event: logger.error("retrain job error: %s", getattr(event, "exception", "missed")),
        EVENT_JOB_ERROR | EVENT_JOB_MISSED,
    )
    scheduler.add_listener(
        lambda event: logger.info(
            "skipped the retrain due at %s: the previous retrain is still running",
            ", ".join(when.isoformat(timespec="seconds") for when in event.scheduled_run_times),
        ),
        EVENT_JOB_MAX_INSTANCES,
    )

    # The clock runs in a thread; this one waits for a stop signal, whenever it comes.
    stop_requested = threading.Event()

    def stop(signum, _frame) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        stop_requested.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info(
        "schedule started: retrain %s; workspace %s; child output in %s", when, workspace.root, log_path
    )
    scheduler.start()
    while not stop_requested.wait(1):
        pass
    scheduler.shutdown(wait=False)
    job.stop()
    logger.info("schedule stopped")
