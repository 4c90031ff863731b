"""`penguins export`: the pipeline as a file for a scheduler teams already run (Airflow, Kubeflow)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from pipeline.cli.help import add_command
from pipeline.cli.options import add_beam_options, add_config_option
from pipeline.cli.outcome import add_json_option, refused
from pipeline.run.exit_codes import EXIT_OK, CommandResult

DEFAULT_SCHEDULE = "0 3 * * *"  # as docker/kubernetes/retrain-cronjob.yaml
AIRFLOW_PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")
DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")  # what Airflow accepts as a dag_id
# A location every pod of a KFP pipeline sees: a URI with a scheme (gs://, s3://) or an absolute path.
LOCATION = re.compile(r"([a-z][a-z0-9+.-]*://[^/\s]+|/)\S*")


def add_export_parser(commands) -> None:
    export = add_command(
        commands,
        "export",
        "write a file for another scheduler: an Airflow DAG, a Kubeflow Pipelines spec",
        "scheduling",
    )
    targets = export.add_subparsers(dest="export_target", required=True)
    _add_airflow_parser(targets)
    _add_kfp_parser(targets)


def _add_airflow_parser(targets) -> None:
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


def _add_kfp_parser(targets) -> None:
    kfp = add_command(
        targets,
        "kfp",
        "write the KFP v2 spec of `penguins run`, for Kubeflow Pipelines or Vertex AI",
        "scheduling",
    )
    kfp.add_argument("--out", type=Path, required=True, help="the spec's file, FILE.yaml")
    kfp.add_argument("--image", required=True, help="the pipeline image every step runs in")
    kfp.add_argument(
        "--pipeline-root",
        required=True,
        metavar="URI",
        help="where every pod writes the outputs and pushes the models, e.g. gs://bucket/penguins",
    )
    kfp.add_argument(
        "--data-root", required=True, metavar="URI", help="a folder of already-cleaned CSV, every pod reads"
    )
    kfp.add_argument(
        "--push-to",
        metavar="DIR",
        help="the folder the Pusher writes models into, mounted in every pod (default: the pipeline "
        "root's serving/, when the root is a path)",
    )
    kfp.add_argument(
        "--retrain",
        action="store_true",
        help="refused: a retrain is planned from the workspace before each run, which a spec cannot do",
    )
    kfp.add_argument(
        "--vertex",
        action="store_true",
        help="also write FILE.json, Vertex AI's PipelineJob, and print how to submit and schedule it",
    )
    add_config_option(kfp)
    add_beam_options(kfp)
    add_json_option(kfp)
    kfp.set_defaults(handler=command_export_kfp)


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


def command_export_airflow(args: argparse.Namespace) -> CommandResult:
    from pipeline.export.airflow_dag import dag_file

    if not DAG_ID.fullmatch(args.dag_id):
        return refused(f"--dag-id {args.dag_id!r}: expected letters, digits, '_', '.' or '-' (at most 250)")
    problem = _schedule_problem(args.schedule)
    if problem:
        return refused(problem)
    workspace = (args.workspace or Path("workspace")).resolve()
    try:
        text = dag_file(args.dag_id, args.schedule, str(args.penguins.absolute()), str(workspace), args.image)
    except ValueError as error:
        return refused(str(error))
    if args.out.exists() and not args.out.is_dir():
        return refused(f"--out {args.out}: is a file; expected the folder the DAG file goes in")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.dag_id}.py"
    path.write_text(text)
    print(f"Wrote the Airflow DAG {args.dag_id!r} to {path}", file=sys.stderr)
    return CommandResult(
        EXIT_OK, {"path": str(path.resolve()), "dag_id": args.dag_id, "schedule": args.schedule}
    )


RETRAIN_REFUSAL = (
    "--retrain: a KFP spec cannot hold `penguins retrain`, which plans each run from the workspace "
    "(the newest span, the window of spans, the span drift is measured against) where KFP's resolvers "
    "take only the latest artifact; schedule `penguins retrain` itself: penguins export airflow --image"
)


def _location_problem(flag: str, value: str) -> str | None:
    """Why `value` cannot be a location of the KFP pipeline, or None. Kept a string, never a Path."""
    if LOCATION.fullmatch(value):
        return None
    return (
        f"{flag} {value!r}: expected a URI that every pod of the pipeline reaches, e.g. "
        "gs://bucket/penguins, or an absolute path on storage mounted in every pod"
    )


def _kfp_problem(args: argparse.Namespace) -> str | None:
    if args.retrain:
        return RETRAIN_REFUSAL
    if args.out.suffix not in (".yaml", ".yml"):
        return f"--out {args.out}: expected a .yaml file (KFP's compiled form of a pipeline)"
    if not args.image or any(character.isspace() for character in args.image):
        return f"--image {args.image!r}: expected an image reference, e.g. registry/penguins:1.0"
    return (
        _location_problem("--pipeline-root", args.pipeline_root)
        or _location_problem("--data-root", args.data_root)
        or _push_problem(args)
    )


def _push_problem(args: argparse.Namespace) -> str | None:
    """The Pusher stages and renames files (components/custom/pusher.py): it needs a file system path."""
    if args.push_to is None and not args.pipeline_root.startswith("/"):
        return (
            f"--pipeline-root {args.pipeline_root!r} is no path the Pusher can write files in: pass "
            "--push-to, a folder mounted in every pod (on Vertex AI, /gcs/BUCKET/... is the bucket)"
        )
    if args.push_to is not None and not args.push_to.startswith("/"):
        return f"--push-to {args.push_to!r}: expected an absolute path, mounted in every pod"
    return None


def command_export_kfp(args: argparse.Namespace) -> CommandResult:
    problem = _kfp_problem(args)
    if problem:
        return refused(problem)
    from pipeline.config.settings import ConfigError, load_settings
    from pipeline.export.kfp_spec import kfp_pipeline, pipeline_job
    from pipeline.run.beam_options import resolve_beam_args

    pipeline_root, data_root = (
        location.rstrip("/") or "/" for location in (args.pipeline_root, args.data_root)
    )
    serving_root = (args.push_to or f"{pipeline_root}/serving").rstrip("/")
    try:
        settings = load_settings(args.config)
        beam_args = resolve_beam_args(args.beam_preset, args.beam_arg).args
        job = pipeline_job(
            kfp_pipeline(settings, data_root, pipeline_root, serving_root, beam_args), args.image
        )
    except (ValueError, ConfigError) as error:
        return refused(str(error))
    return _write_kfp(args, job, pipeline_root, serving_root)


def _write_kfp(args: argparse.Namespace, job: dict, pipeline_root: str, serving_root: str) -> CommandResult:
    """The spec as YAML (what the kfp SDK loads), and with --vertex the whole job as JSON beside it."""
    import json

    import yaml

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(yaml.safe_dump(job["pipelineSpec"], sort_keys=False))
    print(f"Wrote the KFP v2 spec of `penguins run` to {args.out}", file=sys.stderr)
    outcome = {
        "path": str(args.out.resolve()),
        "image": args.image,
        "pipeline_root": pipeline_root,
        "push_to": serving_root,
    }
    if args.vertex:
        job_file = args.out.with_suffix(".json")
        job_file.write_text(json.dumps(job, indent=2))
        lines = vertex_lines(str(job_file.resolve()), job["displayName"], pipeline_root)
        print(
            "Submit and schedule it on Vertex AI, in Python, after `from google.cloud import aiplatform`:",
            file=sys.stderr,
        )
        print("\n".join(lines))
        outcome.update(job=str(job_file.resolve()), vertex=lines)
    return CommandResult(EXIT_OK, outcome)


def vertex_lines(job_file: str, name: str, pipeline_root: str) -> list[str]:
    """Two lines of Python: the Vertex AI PipelineJob of `job_file`, then its schedule (or one run now)."""
    return [
        f"job = aiplatform.PipelineJob(display_name={name!r}, template_path={job_file!r}, "
        f"pipeline_root={pipeline_root!r})",
        f"job.create_schedule(display_name={name!r}, cron={DEFAULT_SCHEDULE!r})  # or job.submit(), one run",
    ]
