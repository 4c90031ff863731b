"""The Airflow DAG file `penguins export airflow` writes: the scheduled commands as Airflow tasks.

The file imports only Airflow (no TFX, no TensorFlow): the scheduler parses every DAG file again and
again, and the tasks call the `penguins` command, which brings its own environment. Every value is
written as a Python literal (repr), never pasted into code.
"""

from __future__ import annotations

import string

from pipeline.export.scheduled_commands import command_line, scheduled_commands

# The workspace inside a task's pod with --image: the claim of docker/kubernetes/retrain-cronjob.yaml.
POD_WORKSPACE = "/workspace"
WORKSPACE_CLAIM = "penguins-workspace"
TRIGGER = "airflow"

_HEAD = '''"""Scheduled retraining of the penguins classifier, written by `penguins export airflow`.

Export again rather than edit. Each task runs one `penguins` command whose last line of output is
its outcome as one line of JSON, which Airflow keeps as the task's XCom. Exit code 3 (the data was
rejected) marks a task skipped, and the next task runs anyway; a failure, such as exit code 4
(another run holds the workspace), is retried after a delay.
"""

import datetime
'''

_LOCAL_TASKS = '''import shlex

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, chain

PENGUINS = $penguins


def penguins_task(task_id, arguments, trigger_rule):
    """One `penguins` command on this machine (or a worker where the same path holds the project)."""
    return BashOperator(
        task_id=task_id,
        bash_command=shlex.join([PENGUINS, *arguments]),
        skip_on_exit_code=3,
        trigger_rule=trigger_rule,
    )
'''

_POD_TASKS = '''from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG, chain
from kubernetes.client import models as k8s

IMAGE = $image
WORKSPACE_CLAIM = $claim


def penguins_task(task_id, arguments, trigger_rule):
    """One `penguins` command in a pod of the pipeline image, whose entrypoint is `penguins`; the
    workspace is the claim of docker/kubernetes/retrain-cronjob.yaml, mounted where COMMANDS say.
    The outcome is the last line of the pod's log (XCom from a pod needs /airflow/xcom/return.json)."""
    return KubernetesPodOperator(
        task_id=task_id,
        name=task_id.replace("_", "-"),
        image=IMAGE,
        arguments=arguments,
        volumes=[
            k8s.V1Volume(
                name="workspace",
                persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name=WORKSPACE_CLAIM),
            )
        ],
        volume_mounts=[k8s.V1VolumeMount(name="workspace", mount_path=$pod_workspace)],
        security_context=k8s.V1PodSecurityContext(run_as_non_root=True, run_as_user=1000, fs_group=1000),
        container_resources=k8s.V1ResourceRequirements(
            requests={"cpu": "2", "memory": "4Gi"}, limits={"memory": "8Gi"}
        ),
        skip_on_exit_code=3,
        trigger_rule=trigger_rule,
        on_finish_action="delete_pod",
    )
'''

_DAG = """

# (task id, arguments of `penguins`, trigger rule), run one after the other.
COMMANDS = $commands

with DAG(
    dag_id=$dag_id,
    schedule=$schedule,
    start_date=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": datetime.timedelta(minutes=10)},
    tags=["penguins"],
) as dag:
    chain(*(penguins_task(*command) for command in COMMANDS))
"""

# Airflow renders operator arguments as Jinja templates: these would be read as template syntax.
_JINJA_MARKERS = ("{{", "{%", "{#")


def _refuse_templates(name: str, value: str) -> None:
    if any(marker in value for marker in _JINJA_MARKERS):
        raise ValueError(
            f"{name} {value!r} holds Jinja template syntax, which Airflow would render; expected none"
        )


def dag_file(dag_id: str, schedule: str, penguins: str, workspace: str, image: str | None) -> str:
    """The DAG file's text: with `image`, tasks are pods of that image; else commands on the worker."""
    in_pods = image is not None
    for name, value in (("--workspace", workspace), ("--penguins", penguins), ("--image", image or "")):
        _refuse_templates(name, value)
    workspace = POD_WORKSPACE if in_pods else workspace
    commands = [
        (command.name, command_line(command, workspace), command.trigger_rule)
        for command in scheduled_commands(TRIGGER)
    ]
    values = {
        "dag_id": repr(dag_id),
        "schedule": repr(schedule),
        "commands": "[\n" + "".join(f"    {command!r},\n" for command in commands) + "]",
        "penguins": repr(penguins),
        "image": repr(image),
        "claim": repr(WORKSPACE_CLAIM),
        "pod_workspace": repr(POD_WORKSPACE),
    }
    tasks = _POD_TASKS if in_pods else _LOCAL_TASKS
    return string.Template(_HEAD + tasks + _DAG).substitute(values)
