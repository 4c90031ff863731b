"""`penguins export kfp`: the spec TFX's KubeflowV2DagRunner compiles, checked by the real kfp SDK.

The SDK does not fit TFX 1.16's protobuf 3, so it runs in a venv of its own (tests/side_venvs.py):
it loads the YAML as KFP does (`load_component_from_file`) and compiles it back. Vertex AI's
PipelineJob is built from the JSON offline, by the aiplatform of the project's environment. No KFP
or Vertex AI cluster runs anything here (docs/scheduling.md).
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess

import pytest
import yaml

from pipeline.config.settings import REPO_ROOT
from tests.helpers import penguins
from tests.side_venvs import kfp_venv

IMAGE = "registry.example/penguins-pipeline:1.2"
PIPELINE_ROOT = "gs://penguins-bucket/pipelines/penguins"
DATA_ROOT = "gs://penguins-bucket/data/clean-2024"
PUSH_TO = "/gcs/penguins-bucket/serving"  # the bucket as Vertex AI mounts it in every pod
RUN_TASKS = {
    "CsvExampleGen",
    "StatisticsGen",
    "ImportSchemaGen",
    "ExampleValidator",
    "ValidationGate",
    "Transform",
    "Trainer",
    "latest_blessed_model_resolver-model-resolver",
    "latest_blessed_model_resolver-model-blessing-resolver",
    "Evaluator",
    "AtomicPusher",
}

# Run with the kfp SDK: load the spec as a component, compile it back, print what the test checks.
ROUND_TRIP = """
import json, sys, yaml
from kfp import compiler, components
component = components.load_component_from_file(sys.argv[1])
compiler.Compiler().compile(component, sys.argv[2])
print(json.dumps({"name": component.name, "compiled": yaml.safe_load(open(sys.argv[2]))}))
"""


def _export(tmp_path, *flags: str) -> dict:
    result = penguins(
        "export", "kfp", "--out", str(tmp_path / "spec" / "penguins.yaml"), "--image", IMAGE,
        "--pipeline-root", PIPELINE_ROOT + "/", "--data-root", DATA_ROOT, "--push-to", PUSH_TO, *flags,
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> tuple[dict, dict]:
    """One export with --vertex: its outcome, and the spec as the file holds it."""
    folder = tmp_path_factory.mktemp("kfp")
    outcome = _export(folder, "--vertex")
    return outcome, yaml.safe_load((folder / "spec" / "penguins.yaml").read_text())


def test_bad_values_are_refused_in_one_line_naming_the_flag(tmp_path):
    out = tmp_path / "spec.yaml"
    required = [
        "--out",
        str(out),
        "--image",
        IMAGE,
        "--pipeline-root",
        "/mnt/penguins",
        "--data-root",
        DATA_ROOT,
    ]
    for flags, expected in (
        (["--retrain"], "--retrain: a KFP spec cannot hold `penguins retrain`"),
        (["--out", str(tmp_path / "spec.json")], "expected a .yaml file"),
        (["--image", "my image"], "--image 'my image': expected an image reference"),
        (["--pipeline-root", "bucket/penguins"], "--pipeline-root 'bucket/penguins': expected a URI"),
        # What pathlib makes of gs://bucket: refused, not written into the spec as a local path.
        (["--data-root", "gs:/bucket/clean"], "--data-root 'gs:/bucket/clean': expected a URI"),
        # The Pusher renames files: a bucket's URI is not enough, a mounted folder is needed.
        (["--pipeline-root", PIPELINE_ROOT], f"--pipeline-root '{PIPELINE_ROOT}' is no path the Pusher"),
        (["--push-to", "serving"], "--push-to 'serving': expected an absolute path"),
    ):
        result = penguins("export", "kfp", *required, *flags, "--json")
        assert result.returncode == 2, result.stderr[-2000:]
        error = json.loads(result.stdout)["error"]
        assert (
            expected in error
            and "\n" not in error
            and f"Refused: {error[len('Refused: ') :]}" in result.stderr
        )
    assert list(tmp_path.iterdir()) == []


def test_the_run_spec_round_trips_through_the_kfp_sdk(exported, tmp_path):
    outcome, spec = exported
    result = subprocess.run(
        [str(kfp_venv() / "bin" / "python"), "-c", ROUND_TRIP, outcome["path"], str(tmp_path / "again.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.splitlines()[-1])
    assert loaded["name"] == "penguins"
    assert loaded["compiled"] == spec
    assert set(spec["root"]["dag"]["tasks"]) == RUN_TASKS
    containers = [executor["container"] for executor in spec["deploymentSpec"]["executors"].values()
                  if "container" in executor]  # fmt: skip
    assert len(containers) == len(RUN_TASKS) - 2  # the resolver's two steps are artifact queries
    assert all(container["image"] == IMAGE for container in containers)


def test_the_spec_names_the_pipeline_root_uri_and_the_image_s_files_only(exported):
    outcome, spec = exported
    text = json.dumps(spec)
    assert outcome["pipeline_root"] == PIPELINE_ROOT  # without the trailing slash given
    assert spec["defaultPipelineRoot"] == PIPELINE_ROOT
    assert f"{PUSH_TO}/penguins" in text and DATA_ROOT in text  # the Pusher's, ExampleGen's
    assert "gs:/p" not in text.replace("gs://", "")  # no URI through pathlib
    assert str(REPO_ROOT) not in text and "/tmp" not in text
    (schema,) = re.findall(r"/app/schema/[\w/.-]+", text)
    # The image holds that file: docker/Dockerfile copies the checkout's schema/ to /app/schema/.
    assert (REPO_ROOT / schema.removeprefix("/app/")).is_file()
    assert "COPY --chown=root:root schema/ /app/schema/" in (REPO_ROOT / "docker" / "Dockerfile").read_text()


def test_vertex_s_pipeline_job_builds_offline_from_the_printed_line(exported):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import aiplatform

    outcome, _ = exported
    create, schedule = outcome["vertex"]
    assert schedule.startswith("job.create_schedule(display_name='penguins', cron='0 3 * * *')")
    aiplatform.init(project="penguins-test", location="us-central1", credentials=AnonymousCredentials())
    namespace = {"aiplatform": aiplatform}
    exec(create, namespace)  # the printed line, as a user runs it; nothing is sent
    job = namespace["job"]._gca_resource
    assert job.display_name == "penguins"
    assert job.runtime_config.gcs_output_directory == PIPELINE_ROOT
    assert set(job.pipeline_spec["root"]["dag"]["tasks"]) == RUN_TASKS
    assert outcome["job"] in create


def test_every_step_s_executor_is_a_class_the_image_s_environment_has(exported):
    """The image holds this checkout and its lock's packages, as this environment does: each step's
    command (TFX's entrypoint, which needs kfp-pipeline-spec) and executor class import here."""
    _, spec = exported
    containers = [e["container"] for e in spec["deploymentSpec"]["executors"].values() if "container" in e]
    (command,) = {tuple(container["command"]) for container in containers}
    assert command[:2] == ("python", "-m")
    importlib.import_module(command[2])
    paths = [c["args"][c["args"].index("--executor_class_path") + 1] for c in containers]
    assert "components.custom.pusher.AtomicPusherExecutor" in paths
    for path in paths:
        module, name = path.rsplit(".", 1)
        assert isinstance(getattr(importlib.import_module(module), name), type), path
