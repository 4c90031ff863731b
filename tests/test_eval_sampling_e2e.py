"""The Evaluator decides on a sample only when the decision is clear, in real pipeline runs.

The bundled eval split is 83 examples; `sample_size: 60` makes it "large" so that sampling is used.
"""

from __future__ import annotations

import json

import keras
import pytest
import tensorflow as tf
import yaml
from tfx.types import standard_artifacts

from components.custom import eval_sample
from components.features import transformed_name
from components.model.signatures import EXAMPLES_SIGNATURE, TRANSFORM_SIGNATURE
from pipeline.config.settings import DEFAULT_CONFIG
from pipeline.definition import node_ids
from pipeline.reporting.metadata import pipeline_runs
from pipeline.reporting.summary import summarize
from serving.store.versions import list_versions
from tests.helpers import component_lines, penguins, tree_snapshot, workspace_store

pytestmark = pytest.mark.e2e

SAMPLE_SIZE = 60


def _config(tmp_path, name: str, evaluation: dict, training: dict | None = None):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(DEFAULT_CONFIG.parents[2] / "schema" / "penguins" / "schema.pbtxt")
    config["evaluation"].update({"sample_size": SAMPLE_SIZE, **evaluation})
    config["training"].update(training or {})
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _newest_run(workspace):
    return pipeline_runs(workspace_store(workspace), "penguins")[0]


def _eval_records(examples_proto) -> list[bytes]:
    files = sorted(tf.io.gfile.glob(f"{examples_proto.uri}/Split-eval/*"))
    return [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def _keras_accuracy(model_dir: str, records: list[bytes]) -> float:
    model = tf.saved_model.load(model_dir)
    examples = tf.constant(records)
    labels = model.signatures[TRANSFORM_SIGNATURE](examples=examples)[transformed_name("species")]
    probabilities = model.signatures[EXAMPLES_SIGNATURE](examples=examples)["probabilities"]
    metric = keras.metrics.SparseCategoricalAccuracy()
    metric.update_state(labels, probabilities)
    return float(metric.result())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A cold run whose bar (accuracy 0.5) a good model clears by far: decided on the sample."""
    tmp_path = tmp_path_factory.mktemp("sampling")
    workspace = tmp_path / "workspace"
    config = _config(tmp_path, "low_bar", {"min_accuracy": 0.5})
    result = penguins("run", "--workspace", str(workspace), "--config", str(config), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace, result


def test_a_first_run_far_above_the_bar_is_blessed_on_a_sample(first_run, tmp_path):
    workspace, result = first_run
    run = _newest_run(workspace)
    summary = summarize(run)
    eval_examples = summary.examples_by_split["eval"]
    assert summary.blessed is True and list_versions(workspace / "serving" / "penguins")
    assert summary.sample is not None and summary.sample.of == eval_examples
    assert 0 < summary.sample.examples < eval_examples
    assert summary.overall.examples == summary.sample.examples
    assert json.loads(result.stdout)["run"]["evaluated_sample"] == {
        "examples": summary.sample.examples,
        "of": eval_examples,
    }
    said = f"on a random sample of {summary.sample.examples} of the {eval_examples} eval examples"
    assert said in result.stderr
    history = penguins("history", "--workspace", str(workspace)).stdout
    assert f"evaluated on a sample of {summary.sample.examples} of {eval_examples} eval examples" in history

    # The accuracy recorded is Keras' over exactly the sampled examples, drawn again here by their hash.
    examples = standard_artifacts.Examples()
    examples.set_mlmd_artifact(run.output(node_ids.EXAMPLE_GEN, "examples"))
    sample = eval_sample.draw([examples], ["eval"], SAMPLE_SIZE, eval_examples, str(tmp_path / "sample"))
    records = _eval_records(sample.examples)
    assert len(records) == summary.sample.examples
    model_dir = f"{run.output(node_ids.TRAINER, 'model').uri}/Format-Serving"
    assert summary.overall.candidate == _keras_accuracy(model_dir, records)
    # The whole split's decision is the same.
    assert _keras_accuracy(model_dir, _eval_records(run.output(node_ids.EXAMPLE_GEN, "examples"))) >= 0.5


def test_an_identical_candidate_is_a_close_call_decided_on_the_whole_split(first_run, tmp_path):
    """Against the served model, a candidate exactly as good is on the 'no worse' bar itself."""
    workspace, _ = first_run
    config = _config(tmp_path, "same", {"min_accuracy": 0.5})
    result = penguins("run", "--workspace", str(workspace), "--config", str(config), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summarize(_newest_run(workspace))
    assert summary.overall.baseline is not None
    assert summary.sample is None
    assert summary.overall.examples == summary.examples_by_split["eval"]
    assert "on the eval split" in result.stdout
    assert summary.blessed is True


def test_a_clearly_worse_candidate_is_rejected_on_a_sample_as_on_the_whole_split(first_run, tmp_path):
    workspace, _ = first_run
    served_before = tree_snapshot(workspace / "serving" / "penguins")
    barely_trained = {"epochs": 1, "learning_rate": 0.0001}
    config = _config(tmp_path, "worse", {"min_accuracy": 0.0}, barely_trained)
    result = penguins("run", "--workspace", str(workspace), "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    # Only the training settings changed: Transform's output stands, the Trainer runs again.
    assert component_lines(result.stdout)["Transform"] == "cached"
    assert component_lines(result.stdout)["Trainer"] == "ran"
    run = _newest_run(workspace)
    summary = summarize(run)
    assert summary.blessed is False, result.stdout
    assert summary.sample is not None, result.stdout
    assert "random sample of" in result.stdout and "against the served model" in result.stdout
    assert tree_snapshot(workspace / "serving" / "penguins") == served_before
    # On the whole split, computed here with Keras, the candidate is worse than the served model too.
    records = _eval_records(run.output(node_ids.EXAMPLE_GEN, "examples"))
    candidate = _keras_accuracy(f"{run.output(node_ids.TRAINER, 'model').uri}/Format-Serving", records)
    served = workspace / "serving" / "penguins" / str(list_versions(workspace / "serving" / "penguins")[-1])
    assert candidate < _keras_accuracy(str(served), records)


@pytest.mark.one_stack
def test_a_retrain_samples_across_every_span_of_its_window(tmp_path):
    """A retrain hands the Evaluator one Examples artifact per span; the sample is drawn from all."""
    workspace = tmp_path / "workspace"
    for year in (2007, 2008):
        ingested = penguins("ingest", "--bundled", "--year", str(year), "--workspace", str(workspace))
        assert ingested.returncode == 0, ingested.stderr
    config = _config(tmp_path, "retrain", {"min_accuracy": 0.5, "sample_size": 30})
    result = penguins("retrain", "--workspace", str(workspace), "--config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    run = _newest_run(workspace)
    summary = summarize(run)
    assert len(summary.spans) == 2 and summary.blessed is True
    window = run.all_outputs(node_ids.SPAN_WINDOW_RESOLVER, "examples")
    in_window = sum(len(_eval_records(examples)) for examples in window)
    assert summary.sample is not None and summary.sample.of == in_window
    assert "random sample of" in result.stdout
    # The examples evaluated are those the hash picks from both spans, and some come from each.
    drawn = []
    for index, proto in enumerate(window):
        span = standard_artifacts.Examples()
        span.set_mlmd_artifact(proto)
        sample = eval_sample.draw([span], ["eval"], 30, in_window, str(tmp_path / f"span{index}"))
        drawn.append(_eval_records(sample.examples))
    assert all(drawn) and sum(map(len, drawn)) == summary.sample.examples
    report = sorted((workspace / "reports").glob("retrain-*.html"))[-1].read_text()
    assert f"random sample of {summary.sample.examples} of the {in_window} eval examples" in report
