"""TFX's StatisticsGen, Transform and Evaluator executors against the batched ones, on the same artifacts.

Takes a workspace in which `penguins run` has finished a run (benchmarks/scale.py leaves one per
size in --scratch). For each component it runs TFX's executor and then this project's on the
artifacts of that workspace's first run, each in a fresh process on Beam's in-process runner,
and prints both times (the executor's `Do` alone, imports excluded) and their ratio. The
Evaluator evaluates the first run's model on the whole eval split (no sample), as a close call
or a config without `evaluation.sample_size` does.

Usage: python benchmarks/batched_reading.py --workspace DIR [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

COMPONENTS = ("StatisticsGen", "Transform", "Evaluator")
VARIANTS = ("tfx", "batched")


def _first_run_artifacts(workspace: Path) -> dict:
    from tfx.types import standard_artifacts

    from pipeline.config.metadata_location import SqliteLocation
    from pipeline.config.settings import load_settings
    from pipeline.definition import node_ids
    from pipeline.metadata.store import open_store
    from pipeline.reporting.metadata import pipeline_runs

    first = pipeline_runs(open_store(SqliteLocation(workspace / "metadata.sqlite")), load_settings().name)[-1]

    def typed(kind, node, key):
        artifact = kind()
        artifact.set_mlmd_artifact(first.output(node, key))
        return artifact

    return {
        "examples": typed(standard_artifacts.Examples, node_ids.EXAMPLE_GEN, "examples"),
        "schema": typed(standard_artifacts.Schema, node_ids.SCHEMA_GEN, "schema"),
        "model": typed(standard_artifacts.Model, node_ids.TRAINER, "model"),
    }


def _executor(component: str, variant: str):
    if component == "StatisticsGen":
        from tfx.components.statistics_gen.executor import Executor

        from components.custom.batched_statistics_gen import BatchedStatisticsGenExecutor

        return Executor if variant == "tfx" else BatchedStatisticsGenExecutor
    if component == "Transform":
        from tfx.components.transform.executor import Executor

        from components.custom.batched_transform import BatchedTransformExecutor

        return Executor if variant == "tfx" else BatchedTransformExecutor
    from tfx.components.evaluator.executor import Executor

    from components.custom.sampled_evaluator import SampledEvaluatorExecutor

    return Executor if variant == "tfx" else SampledEvaluatorExecutor


def _arguments(component: str, artifacts: dict, out: Path) -> tuple[dict, dict, dict]:
    """The executor's inputs, outputs and properties, as the pipeline gives them."""
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from pipeline.config.settings import load_settings
    from pipeline.definition.evaluation import eval_config
    from pipeline.definition.pipelines import PREPROCESSING_FN

    def output(kind, name):
        artifact = kind()
        artifact.uri = str(out / name)
        (out / name).mkdir(parents=True)
        return artifact

    settings = load_settings()
    examples = [artifacts["examples"]]
    if component == "StatisticsGen":
        return {"examples": examples}, {"statistics": [output(standard_artifacts.ExampleStatistics, "s")]}, {}
    if component == "Transform":
        properties = {
            "preprocessing_fn": PREPROCESSING_FN,
            "custom_config": json.dumps(settings.features.as_custom_config()),
            "disable_statistics": 1,
            "force_tf_compat_v1": 1,
        }
        outputs = {
            "transform_graph": [output(standard_artifacts.TransformGraph, "graph")],
            "transformed_examples": [output(standard_artifacts.Examples, "transformed")],
        }
        return {"examples": examples, "schema": [artifacts["schema"]]}, outputs, properties
    outputs = {
        "evaluation": [output(standard_artifacts.ModelEvaluation, "evaluation")],
        "blessing": [output(standard_artifacts.ModelBlessing, "blessing")],
    }
    properties = {"eval_config": proto_utils.proto_to_json(eval_config(settings)), "example_splits": "null"}
    return {"examples": examples, "model": [artifacts["model"]]}, outputs, properties


def _run_one(workspace: Path, component: str, variant: str, out: Path) -> None:
    """In this process: one executor's `Do`, timed; prints its seconds as JSON."""
    from serving.compat import import_tensorflow_quietly

    import_tensorflow_quietly()
    from absl import logging
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor

    from pipeline.run.beam_options import resolve_beam_args

    logging.set_verbosity(logging.WARNING)
    inputs, outputs, properties = _arguments(component, _first_run_artifacts(workspace), out)
    context = BaseBeamExecutor.Context(
        beam_pipeline_args=resolve_beam_args("in-process", []).args, tmp_dir=str(out / "tmp"), unique_id="1"
    )
    executor = _executor(component, variant)(context)
    started = time.monotonic()
    executor.Do(inputs, outputs, properties)
    print(json.dumps({"seconds": time.monotonic() - started}))


def _timed(workspace: Path, component: str, variant: str, scratch: Path) -> float:
    out = scratch / f"{component}-{variant}"
    command = [sys.executable, __file__, "--workspace", str(workspace), "--one", component, variant, str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{component} ({variant}) failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", nargs=3, metavar=("COMPONENT", "VARIANT", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        component, variant, out = args.one
        _run_one(args.workspace, component, variant, Path(out))
        return
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for component in COMPONENTS:
            times = {
                variant: _timed(args.workspace, component, variant, Path(scratch)) for variant in VARIANTS
            }
            results[component] = {**times, "ratio": times["batched"] / times["tfx"]}
            print(
                f"{component:<14} TFX's executor {times['tfx']:6.1f} s   batched {times['batched']:6.1f} s   "
                f"{results[component]['ratio']:.2f}x the time",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
