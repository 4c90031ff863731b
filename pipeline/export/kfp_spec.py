"""The KFP v2 spec `penguins export kfp` writes: `penguins run`, compiled by TFX's KubeflowV2DagRunner.

Each step runs in a pod of the pipeline image (docker/Dockerfile), so the spec names the files of
this checkout by where the image holds them, and every location of the pipeline's outputs under
the pipeline root, a URI every pod reaches (e.g. `gs://bucket/penguins`). Locations stay strings
from the flag to the spec (pipeline/cli/export.py checks them): pathlib would turn `gs://bucket`
into `gs:/bucket`.

The runner supports TFX's two built-in resolver strategies only, so the Evaluator's baseline is
the latest blessed model rather than the model served (docs/scheduling.md says what differs).
"""

from __future__ import annotations

from pathlib import Path

from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.kubeflow.v2.kubeflow_v2_dag_runner import (
    KubeflowV2DagRunner,
    KubeflowV2DagRunnerConfig,
)
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from pipeline.config.settings import REPO_ROOT, Settings
from pipeline.definition import node_ids
from pipeline.definition.pipelines import pinned_pipeline, run_components

# Where docker/Dockerfile puts this checkout's files in the image (its `COPY schema/ /app/schema/`...).
IMAGE_PROJECT_ROOT = "/app"


def image_path(path: Path) -> str:
    """`path`, a file of this checkout, as the pipeline image holds it."""
    try:
        relative = path.resolve().relative_to(REPO_ROOT)
    except ValueError:
        raise ValueError(
            f"the config's schema {path} is not in this checkout, so not in the pipeline image; "
            "expected a file under " + str(REPO_ROOT)
        ) from None
    return f"{IMAGE_PROJECT_ROOT}/{relative.as_posix()}"


def latest_blessed_baseline() -> Resolver:
    """The newest model the Evaluator blessed, the nearest baseline to the served model KFP can resolve."""
    return Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id(node_ids.LATEST_BLESSED_RESOLVER)


def kfp_pipeline(
    settings: Settings, data_root: str, pipeline_root: str, serving_root: str, beam_args: list[str]
) -> tfx_pipeline.Pipeline:
    """`penguins run` over the cleaned CSV of `data_root`, its outputs under `pipeline_root`, pushing
    the model into its folder of `serving_root`: a mounted path, as the Pusher renames files there."""
    components = run_components(
        settings,
        data_root,
        image_path(settings.schema_path),
        f"{serving_root}/{settings.model_name}",
        latest_blessed_baseline(),
    )
    return pinned_pipeline(settings, pipeline_root, components, beam_args)


def pipeline_job(pipeline: tfx_pipeline.Pipeline, image: str) -> dict:
    """The PipelineJob (a JSON document) whose `pipelineSpec` is the pipeline, every step in `image`.

    The runner puts the pipeline root in the job only (its runtime config); the spec gets it as its
    default too, so that the spec file alone, as KFP runs it, writes where the Pusher's path points.
    """
    # Each step's command is TFX's executor entrypoint, `python -m ...`, the image's Python being on its PATH.
    config = KubeflowV2DagRunnerConfig(default_image=image)
    job = KubeflowV2DagRunner(config).run(pipeline, write_out=False)
    job["pipelineSpec"]["defaultPipelineRoot"] = pipeline.pipeline_info.pipeline_root
    return job
