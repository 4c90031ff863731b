"""Does the Evaluator's sample decide as the whole eval split would? Real models, both ways, timed.

Takes a workspace in which `penguins run` has pushed a model (benchmarks/scale.py leaves one per
size in --scratch) and the data it ran on. It first runs the pipeline again with a barely trained
candidate (WORSE_TRAINING) on the same data: a real run with a served model,
timed. Then, with the good model G and that worse model W, it runs the Evaluator's executor on the
same eval split in the cases below, once deciding on a sample (the config's `sample_size`) and
once on the whole split, and prints each decision, whether the sample decided or fell back, and
both times:
- G alone, far above the accuracy bar; G alone with the bar just under its accuracy; G alone with
  the bar above its accuracy;
- G against itself as the served model (an equal candidate, on the "no worse" bar itself);
- W against G (clearly worse) and G against W (clearly better).

Usage: python benchmarks/eval_sampling.py --workspace DIR --data DIR [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from serving.compat import import_tensorflow_quietly  # noqa: E402 - after the path is set

warnings.filterwarnings("ignore", category=FutureWarning)
import_tensorflow_quietly()

from absl import logging  # noqa: E402 - after TensorFlow is imported quietly

from components.custom import eval_sample  # noqa: E402 - after the path is set
from components.custom.evaluation_keys import EVALUATED_EXAMPLES_KEY  # noqa: E402
from components.custom.sampled_evaluator import EVAL_SAMPLE_SIZE_KEY, SampledEvaluatorExecutor  # noqa: E402
from pipeline.config.metadata_location import SqliteLocation  # noqa: E402
from pipeline.config.settings import DEFAULT_CONFIG, load_settings  # noqa: E402
from pipeline.definition import node_ids  # noqa: E402
from pipeline.definition.evaluation import eval_config  # noqa: E402
from pipeline.metadata.store import open_store  # noqa: E402
from pipeline.reporting.metadata import pipeline_runs  # noqa: E402
from pipeline.reporting.summary import summarize  # noqa: E402
from pipeline.run.beam_options import resolve_beam_args  # noqa: E402

PENGUINS = Path(sys.executable).parent / "penguins"
# About a hundred small steps at 1M rows. One epoch in batches of 32 at this rate is no use here:
# 23,000 steps trained a model within 0.001 of the served one, a close call, not a worse model.
WORSE_TRAINING = {"epochs": 1, "learning_rate": 0.0001, "batch_size": 8192}


def _worse_run(workspace: Path, data: Path, scratch: Path) -> dict:
    """The pipeline with a barely trained candidate against the served model, as a user would run it."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(REPO / config["schema"])
    config["training"].update(WORSE_TRAINING)
    path = scratch / "worse.yaml"
    path.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    command = [str(PENGUINS), "run", "--workspace", str(workspace), "--config", str(path),
               "--data", str(data), "--beam-preset", "in-process", "--json"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"the worse candidate's run failed:\n{result.stdout}\n{result.stderr}")
    outcome = json.loads(result.stdout)["run"]
    return {"seconds": time.monotonic() - started, "blessed": outcome["blessed"],
            "evaluated_sample": outcome["evaluated_sample"]}  # fmt: skip


def _artifacts(workspace: Path):
    """Examples, the good (first, pushed) model and the worse (newest) model, from MLMD."""
    from tfx.types import standard_artifacts

    runs = pipeline_runs(open_store(SqliteLocation(workspace / "metadata.sqlite")), load_settings().name)
    newest, first = runs[0], runs[-1]

    def typed(kind, proto):
        artifact = kind()
        artifact.set_mlmd_artifact(proto)
        return artifact

    examples = typed(standard_artifacts.Examples, first.output(node_ids.EXAMPLE_GEN, "examples"))
    good = typed(standard_artifacts.Model, first.output(node_ids.TRAINER, "model"))
    worse = typed(standard_artifacts.Model, newest.output(node_ids.TRAINER, "model"))
    return examples, good, worse, summarize(first).overall.candidate


def _evaluate(examples, model, baseline, config, sample_size, out: Path) -> dict:
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    evaluation, blessing = standard_artifacts.ModelEvaluation(), standard_artifacts.ModelBlessing()
    for artifact, name in ((evaluation, "evaluation"), (blessing, "blessing")):
        artifact.uri = str(out / name)
        (out / name).mkdir(parents=True)
    context = BaseBeamExecutor.Context(
        beam_pipeline_args=resolve_beam_args("in-process", []).args, tmp_dir=str(out / "tmp"), unique_id="1"
    )
    inputs = {"examples": [examples], "model": [model]}
    if baseline is not None:
        inputs["baseline_model"] = [baseline]
    started = time.monotonic()
    SampledEvaluatorExecutor(context).Do(
        inputs,
        {"evaluation": [evaluation], "blessing": [blessing]},
        {
            "eval_config": proto_utils.proto_to_json(config),
            "example_splits": "null",
            EVAL_SAMPLE_SIZE_KEY: sample_size,
        },
    )
    return {
        "seconds": time.monotonic() - started,
        "blessed": (out / "blessing" / "BLESSED").exists(),
        "evaluated_examples": evaluation.get_int_custom_property(EVALUATED_EXAMPLES_KEY),
    }


def _config_with(minimum: float):
    """The pipeline's eval config with another accuracy bar; TFX adds the served model's spec itself."""
    config = eval_config(load_settings())
    threshold = config.metrics_specs[0].metrics[-1].per_slice_thresholds[0].threshold
    threshold.value_threshold.lower_bound.value = minimum
    return config


def _decision(outcome: dict) -> str:
    return "blessed" if outcome["blessed"] else "not blessed"


def _line(name: str, sampled: dict, whole: dict, population: int) -> str:
    same = "same" if sampled["blessed"] == whole["blessed"] else "DIFFERENT"
    return (
        f"{name:<44} whole split: {_decision(whole):<11} {whole['seconds']:6.1f} s | "
        f"with sampling: {_decision(sampled):<11} on {sampled['evaluated_examples']:,} of {population:,} "
        f"{sampled['seconds']:6.1f} s | {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.set_verbosity(logging.WARNING)
    settings = load_settings()
    sample_size, bar = settings.evaluation.sample_size, settings.evaluation.min_accuracy
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        worse_run = _worse_run(args.workspace, args.data, scratch)
        print(f"pipeline run, a barely trained candidate against the served model: "
              f"{worse_run['seconds']:.0f} s, blessed {worse_run['blessed']}, "
              f"sample {worse_run['evaluated_sample']}", flush=True)  # fmt: skip
        examples, good, worse, accuracy = _artifacts(args.workspace)
        population = eval_sample.population_size([examples], ["eval"])
        cases = [
            ("G alone, bar 0.9 (far below)", good, None, 0.9),
            (f"G alone, bar {accuracy - 0.001:.4f} (just below its accuracy)", good, None, accuracy - 0.001),
            (
                f"G alone, bar {min(1.0, accuracy + 0.005):.4f} (above it)",
                good,
                None,
                min(1.0, accuracy + 0.005),
            ),
            ("G against G (equal)", good, good, bar),
            ("W against G (worse)", worse, good, bar),
            ("G against W (better)", good, worse, bar),
        ]
        results = []
        for index, (name, model, baseline, minimum) in enumerate(cases):
            config = _config_with(minimum)
            sampled = _evaluate(examples, model, baseline, config, sample_size, scratch / f"{index}-sampled")
            whole = _evaluate(examples, model, baseline, config, None, scratch / f"{index}-whole")
            results.append({"case": name, "sampled": sampled, "whole": whole})
            print(_line(name, sampled, whole, population), flush=True)
    agreed = all(r["sampled"]["blessed"] == r["whole"]["blessed"] for r in results)
    print(f"same decisions in all {len(results)} cases: {agreed}")
    if args.json:
        args.json.write_text(
            json.dumps({"worse_run": worse_run, "cases": results, "agreed": agreed}, indent=2)
        )


if __name__ == "__main__":
    main()
