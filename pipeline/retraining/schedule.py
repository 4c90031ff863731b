"""`penguins schedule`: runs `penguins retrain` on a cron schedule in one long-lived process.

APScheduler keeps the clock; each retrain runs as a child process, so a crash, a memory leak in
TensorFlow or a hung Beam worker ends with that run and never with the scheduler. Every run's
outcome is logged in one line; the child's own output goes to the schedule log file.
SIGTERM (as `docker stop` sends) stops the schedule and the running retrain, and exits 0; a
stopped retrain pushes nothing and records its interrupted component as failed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from pipeline.cli.options import add_config_option, add_runner_options, add_workspace_option
from pipeline.run.exit_codes import EXIT_BUSY, EXIT_DATA_REJECTED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

logger = logging.getLogger("penguins.schedule")
_STOP_GRACE_SECONDS = 30
_EXIT_MEANINGS = {
    EXIT_OK: "finished",
    EXIT_DATA_REJECTED: "data rejected",
    EXIT_BUSY: "skipped (workspace busy)",
    EXIT_USAGE: "could not start",
    EXIT_INTERRUPTED: "stopped",
}


def add_schedule_parser(commands) -> None:
    schedule = commands.add_parser("schedule", help="run `penguins retrain` on a schedule until stopped")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--cron",
        help='a crontab expression in local time (TZ, when set), e.g. "0 3 * * *" for 03:00 daily',
    )
    when.add_argument(
        "--every", type=float, metavar="SECONDS", help="a fixed interval instead (demos, tests)"
    )
    schedule.add_argument(
        "--when-new-data", action="store_true", help="retrain only when a span arrived since the last retrain"
    )
    add_config_option(schedule)
    add_workspace_option(schedule, "spans and outputs")
    add_runner_options(schedule)
    schedule.set_defaults(handler=command_schedule)


def _trigger(args: argparse.Namespace):
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if args.every is not None:
        if args.every <= 0:
            raise argparse.ArgumentTypeError(
                f"--every must be a positive number of seconds, got {args.every}"
            )
        return IntervalTrigger(seconds=args.every)
    try:
        return CronTrigger.from_crontab(args.cron)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"--cron {args.cron!r} is not a crontab expression ({error}); expected five fields, "
            'minute hour day month weekday, e.g. "0 3 * * *"'
        ) from error


def retrain_command(args: argparse.Namespace) -> list[str]:
    command = [sys.executable, "-m", "pipeline.cli", "retrain", "--json", "--workspace", str(args.workspace)]
    command += ["--runner", args.runner, "--beam-preset", args.beam_preset]
    command += [f"--beam-arg={arg}" for arg in args.beam_arg]
    if args.config:
        command += ["--config", str(args.config)]
    if args.when_new_data:
        command.append("--when-new-data")
    return command


def describe_outcome(output: str) -> str:
    """One line from the JSON outcome that `penguins retrain --json` prints on stdout."""
    try:
        outcome = json.loads(output)
    except ValueError:
        return "no outcome was reported; see the schedule log"
    if outcome.get("no_new_data"):
        return f"no new data since span {outcome['newest_span']}"
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


def command_schedule(args: argparse.Namespace) -> int:
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
    from apscheduler.schedulers.background import BackgroundScheduler

    from pipeline.config.workspace import Workspace

    try:
        trigger = _trigger(args)
    except argparse.ArgumentTypeError as error:
        print(f"Schedule refused: {error}", file=sys.stderr)
        return EXIT_USAGE
    workspace = Workspace(args.workspace.resolve()).create()
    log_path = workspace.log_dir / "schedule.log"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stdout, force=True)
    # APScheduler's own warnings are replaced by the lines the listeners below write.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    job = RetrainJob(retrain_command(args), log_path)
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
    when = f"every {args.every:g}s" if args.every is not None else f"cron '{args.cron}' ({trigger.timezone})"
    new_data = ", only when new data arrived" if args.when_new_data else ""
    logger.info(
        "schedule started: retrain %s%s; workspace %s; child output in %s",
        when,
        new_data,
        workspace.root,
        log_path,
    )
    scheduler.start()
    while not stop_requested.wait(1):
        pass
    scheduler.shutdown(wait=False)
    job.stop()
    logger.info("schedule stopped")
    return EXIT_OK
