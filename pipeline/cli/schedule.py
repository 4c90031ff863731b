"""`penguins schedule`: runs `penguins retrain` on a cron schedule until stopped."""

from __future__ import annotations

import argparse
import sys

from pipeline.cli.help import add_command
from pipeline.cli.options import add_config_option, add_runner_options, add_workspace_option
from pipeline.run.exit_codes import EXIT_OK, EXIT_USAGE


def add_schedule_parser(commands) -> None:
    schedule = add_command(
        commands, "schedule", "run `penguins retrain` on a schedule until stopped", "monitoring"
    )
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--cron",
        help='a crontab expression in local time (TZ, when set), e.g. "0 3 * * *" for 03:00 daily',
    )
    when.add_argument(
        "--every", type=float, metavar="SECONDS", help="a fixed interval instead (demos, tests)"
    )
    condition = schedule.add_mutually_exclusive_group()
    condition.add_argument(
        "--when-new-data", action="store_true", help="retrain only when a span arrived since the last retrain"
    )
    condition.add_argument(
        "--when-quality-dips",
        action="store_true",
        help="retrain only when `penguins monitor` finds the served model's live accuracy dipped",
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
    """The child's command line: `penguins retrain --json` with this schedule's options."""
    command = [sys.executable, "-m", "pipeline.cli", "retrain", "--json", "--workspace", str(args.workspace)]
    command += ["--triggered-by", "schedule"]
    command += ["--runner", args.runner, "--beam-preset", args.beam_preset]
    command += [f"--beam-arg={arg}" for arg in args.beam_arg]
    if args.config:
        command += ["--config", str(args.config)]
    if args.when_new_data:
        command.append("--when-new-data")
    if args.when_quality_dips:
        command.append("--when-quality-dips")
    return command


def command_schedule(args: argparse.Namespace) -> int:
    from pipeline.config.workspace import Workspace
    from pipeline.retraining.schedule import run_schedule

    try:
        trigger = _trigger(args)
    except argparse.ArgumentTypeError as error:
        print(f"Schedule refused: {error}", file=sys.stderr)
        return EXIT_USAGE
    when = f"every {args.every:g}s" if args.every is not None else f"cron '{args.cron}' ({trigger.timezone})"
    new_data = ", only when new data arrived" if args.when_new_data else ""
    new_data += ", only when live quality dipped" if args.when_quality_dips else ""
    run_schedule(trigger, f"{when}{new_data}", retrain_command(args), Workspace(args.workspace.resolve()))
    return EXIT_OK
