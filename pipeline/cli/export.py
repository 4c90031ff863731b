"""`penguins export`: the scheduled retraining as a file for a scheduler teams already run."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipeline.cli.help import add_command
from pipeline.cli.outcome import add_json_option
from pipeline.run.exit_codes import EXIT_OK, EXIT_USAGE, CommandResult

DEFAULT_SCHEDULE = "0 3 * * *"  # as docker/kubernetes/retrain-cronjob.yaml
AIRFLOW_PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")
DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")  # what Airflow accepts as a dag_id


def add_export_parser(commands) -> None:
    export = add_command(commands, "export", "write the scheduled retraining for Airflow", "scheduling")
    targets = export.add_subparsers(dest="export_target", required=True)
    airflow = add_command(
        targets,
        "airflow",
        "write an Airflow DAG: retrain on new data, monitor, retrain when quality dips",
        "scheduling",
    )
    airflow.add_argument(
        "--out", type=Path, required=True, help="the folder the DAG file goes in (Airflow's dags/)"
    )
    airflow.add_argument("--dag-id", default="penguins_retrain", help="the DAG's id and file name")
    airflow.add_argument(
        "--schedule",
        default=DEFAULT_SCHEDULE,
        help="a crontab expression (in Airflow's time zone, UTC by default) or an Airflow preset such as "
        f'@daily; default "{DEFAULT_SCHEDULE}"',
    )
    where = airflow.add_mutually_exclusive_group()
    where.add_argument(
        "--workspace", type=Path, help="the workspace the tasks retrain (default ./workspace, made absolute)"
    )
    where.add_argument(
        "--image",
        help="run each task as a Kubernetes pod of this pipeline image, on the penguins-workspace claim",
    )
    airflow.add_argument(
        "--penguins",
        type=Path,
        default=Path(sys.executable).parent / "penguins",
        help="the `penguins` command the tasks call (default: this one's)",
    )
    add_json_option(airflow)
    airflow.set_defaults(handler=command_export_airflow)


def _schedule_problem(schedule: str) -> str | None:
    if schedule in AIRFLOW_PRESETS:
        return None
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(schedule)
    except ValueError as error:
        return (
            f"--schedule {schedule!r} is not a crontab expression ({error}); expected five fields, "
            f'e.g. "0 3 * * *", or one of {", ".join(AIRFLOW_PRESETS)}'
        )
    return None


def _refused(message: str) -> CommandResult:
    print(f"Refused: {message}", file=sys.stderr)
    return CommandResult(EXIT_USAGE, {"error": f"Refused: {message}"})


def command_export_airflow(args: argparse.Namespace) -> CommandResult:
    from pipeline.export.airflow_dag import dag_file

    if not DAG_ID.fullmatch(args.dag_id):
        return _refused(f"--dag-id {args.dag_id!r}: expected letters, digits, '_', '.' or '-' (at most 250)")
    problem = _schedule_problem(args.schedule)
    if problem:
        return _refused(problem)
    workspace = (args.workspace or Path("workspace")).resolve()
    try:
        text = dag_file(args.dag_id, args.schedule, str(args.penguins.absolute()), str(workspace), args.image)
    except ValueError as error:
        return _refused(str(error))
    if args.out.exists() and not args.out.is_dir():
        return _refused(f"--out {args.out}: is a file; expected the folder the DAG file goes in")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.dag_id}.py"
    path.write_text(text)
    print(f"Wrote the Airflow DAG {args.dag_id!r} to {path}", file=sys.stderr)
    return CommandResult(
        EXIT_OK, {"path": str(path.resolve()), "dag_id": args.dag_id, "schedule": args.schedule}
    )
