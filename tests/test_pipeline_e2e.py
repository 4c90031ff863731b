"""End-to-end runs of the real pipeline through the `penguins` console script."""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_analysis as tfma
import yaml
from ml_metadata.proto.metadata_store_pb2 import Execution

from components.features import transformed_name
from components.model.signatures import EXAMPLES_SIGNATURE, TRANSFORM_SIGNATURE
from pipeline.config.settings import DEFAULT_CONFIG
from pipeline.definition import node_ids
from pipeline.reporting.metadata import pipeline_runs
from pipeline.reporting.summary import summarize
from pipeline.run.lock import workspace_lock
from serving.store.model_config import read_labels
from serving.store.versions import list_versions
from tests.helpers import (
    PENGUINS,
    REPO,
    bundled_rows,
    component_lines,
    left_in_tmpdir,
    penguins,
    predict_in_process,
    tree_snapshot,
    workspace_store,
    write_rows,
)

pytestmark = pytest.mark.e2e

KNOWN_PENGUINS = {
    "Adelie": {"island": "Torgersen", "bill_length_mm": 39.1, "bill_depth_mm": 18.7,
               "flipper_length_mm": 181.0, "body_mass_g": 3750.0, "sex": "male"},
    "Gentoo": {"island": "Biscoe", "bill_length_mm": 46.1, "bill_depth_mm": 13.2,
               "flipper_length_mm": 211.0, "body_mass_g": 4500.0, "sex": "female"},
    "Chinstrap": {"island": "Dream", "bill_length_mm": 46.5, "bill_depth_mm": 17.9,
                  "flipper_length_mm": 192.0, "body_mass_g": 3500.0, "sex": ""},
}  # fmt: skip
DATA_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "ExampleValidator", "ValidationGate")
TRAINING_COMPONENTS = {"Transform", "Trainer", "Evaluator", "AtomicPusher"}


@pytest.fixture(scope="module")
def run_tmpdir(tmp_path_factory):
    """The TMPDIR of the shared cold run."""
    return tmp_path_factory.mktemp("tmp")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, run_tmpdir):
    """One cold run on the bundled data, shared by the tests that build on a served model."""
    workspace = tmp_path_factory.mktemp("workspace")
    result = penguins("run", "--workspace", str(workspace), env={"TMPDIR": str(run_tmpdir)})
    assert result.returncode == 0, result.stdout + result.stderr
    return workspace, result


def _model_dir(workspace):
    return workspace / "serving" / "penguins"


def test_bundled_run_validates_trains_evaluates_and_pushes(trained):
    workspace, result = trained
    statuses = component_lines(result.stdout)
    for component in (*DATA_COMPONENTS, *TRAINING_COMPONENTS):
        assert statuses.get(component) == "ran", result.stdout
    assert "Blessed:   yes" in result.stdout
    versions = list_versions(_model_dir(workspace))
    assert len(versions) == 1
    assert f"Pushed:    version {versions[0]}" in result.stdout
    assert (workspace / "serving" / "models.config").is_file()
    assert read_labels(workspace / "serving", "penguins") == {"canary": versions[0], "stable": versions[0]}
    # TensorFlow's and Beam's noise goes to the log file, not the terminal.
    assert "tensorflow" not in (result.stdout + result.stderr).lower()
    assert "WARNING" not in result.stdout + result.stderr
    assert list((workspace / "logs").glob("run-*.log"))


def test_a_run_leaves_nothing_in_the_temporary_directory(trained, run_tmpdir):
    """TFX used to repackage itself there for every Beam-powered component: 49 MB each, never deleted."""
    assert not left_in_tmpdir(run_tmpdir)


def test_pushed_model_loaded_fresh_predicts_known_penguins(trained):
    workspace, _ = trained
    model_path = _model_dir(workspace) / str(list_versions(_model_dir(workspace))[-1])
    species, probabilities = predict_in_process(model_path, list(KNOWN_PENGUINS.values()))
    assert species == list(KNOWN_PENGUINS)
    assert np.all(probabilities.max(axis=1) > 0.5)


def test_eval_accuracy_is_at_least_point_nine_overall(trained):
    workspace, _ = trained
    summary = summarize(pipeline_runs(workspace_store(workspace), "penguins")[0])
    assert summary.overall.candidate >= 0.9
    assert summary.overall.examples > 50
    slices = {s.name for s in summary.accuracy}
    assert {"island=Biscoe", "island=Dream", "island=Torgersen", "sex=female", "sex=male"} <= slices


def test_evaluator_accuracy_is_keras_accuracy_over_the_whole_eval_split(trained):
    """The Evaluator derives accuracy from its confusion matrix; it must equal Keras' own metric, to the
    bit, over every eval example, overall and per slice, and the matrix must count every example."""
    workspace, _ = trained
    run = pipeline_runs(workspace_store(workspace), "penguins")[0]
    summary = summarize(run)
    records = [
        record.numpy()
        for record in tf.data.TFRecordDataset(
            sorted((workspace / "tfx" / "CsvExampleGen").glob("examples/*/Split-eval/*")), "GZIP"
        )
    ]
    model = tf.saved_model.load(str(_model_dir(workspace) / str(list_versions(_model_dir(workspace))[-1])))
    examples = tf.constant(records)
    labels = model.signatures[TRANSFORM_SIGNATURE](examples=examples)[transformed_name("species")]
    probabilities = model.signatures[EXAMPLES_SIGNATURE](examples=examples)["probabilities"]
    islands = [tf.train.Example.FromString(r).features.feature["island"].bytes_list.value[0] for r in records]

    def keras_accuracy(rows):
        metric = keras.metrics.SparseCategoricalAccuracy()
        metric.update_state(tf.gather(labels, rows), tf.gather(probabilities, rows))
        return float(metric.result())

    assert summary.overall.examples == len(records) == summary.examples_by_split["eval"]
    assert summary.overall.candidate == keras_accuracy(list(range(len(records))))
    by_name = {s.name: s for s in summary.accuracy}
    for island in set(islands):
        rows = [i for i, value in enumerate(islands) if value == island]
        assert by_name[f"island={island.decode()}"].candidate == keras_accuracy(rows)
        assert by_name[f"island={island.decode()}"].examples == len(rows)

    # The plot's matrix, counted by components/model/confusion_matrix.py, is every example's
    # (label, most probable class) pair, as TFMA's own plot counts it.
    predicted = np.argmax(probabilities, axis=1).tolist()
    expected = collections.Counter(zip(labels.numpy().ravel().tolist(), predicted, strict=True))
    evaluation = run.output(node_ids.EVALUATOR, "evaluation").uri
    (overall,) = [p for p in tfma.load_plots(evaluation) if not p.slice_key.single_slice_keys]
    (plot,) = overall.plot_keys_and_values
    assert plot.key.name == "multi_class_confusion_matrix_plot"
    (matrix,) = plot.value.multi_class_confusion_matrix_at_thresholds.matrices
    counted = {(e.actual_class_id, e.predicted_class_id): e.num_weighted_examples for e in matrix.entries}
    assert counted == expected


def test_unchanged_second_run_is_up_to_date_without_starting_tensorflow(trained):
    workspace, _ = trained
    before = tree_snapshot(_model_dir(workspace))
    (version,) = list_versions(_model_dir(workspace))
    result = penguins("run", "--workspace", str(workspace), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["up_to_date"] is True and outcome["served_version"] == version
    assert outcome["run"]["pushed_version"] == str(version)
    # It describes now: what is served, and the run it stands for; not that run's "no model was served yet".
    assert f"Served:    version {version}, the model that run trained" in result.stderr
    assert f"blessed, pushed {version}" in result.stderr
    assert "no model was served yet" not in result.stderr
    assert not TRAINING_COMPONENTS & set(component_lines(result.stderr))
    assert "tensorflow" not in result.stderr.lower()
    assert tree_snapshot(_model_dir(workspace)) == before


def test_rerun_reuses_tfx_cache_and_pushes_nothing_new(trained):
    workspace, _ = trained
    before = tree_snapshot(_model_dir(workspace))
    result = penguins("run", "--workspace", str(workspace), "--rerun")
    assert result.returncode == 0, result.stdout + result.stderr
    statuses = component_lines(result.stdout)
    for component in (*DATA_COMPONENTS, "Transform", "Trainer"):
        assert statuses.get(component) == "cached", result.stdout
    assert "already served" in result.stdout
    assert tree_snapshot(_model_dir(workspace)) == before


def _bad_unknown_island(tmp_path):
    rows = bundled_rows()
    for row in rows[:5]:
        row["island"] = "Atlantis"
    return write_rows(tmp_path / "unknown_island.csv", rows)


def _bad_negative_mass(tmp_path):
    rows = bundled_rows()
    rows[10]["body_mass_g"] = "-3750"
    return write_rows(tmp_path / "negative_mass.csv", rows)


def _bad_missing_column(tmp_path):
    rows = bundled_rows()
    columns = [c for c in rows[0] if c != "bill_depth_mm"]
    return write_rows(tmp_path / "missing_column.csv", rows, columns)


def _bad_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    return path


def _bad_non_numeric(tmp_path):
    rows = bundled_rows()
    rows[7]["flipper_length_mm"] = "long"
    return write_rows(tmp_path / "non_numeric.csv", rows)


BAD_DATA = {
    "unknown island": (_bad_unknown_island, ["feature 'island'", "Atlantis"]),
    "negative body mass": (_bad_negative_mass, ["feature 'body_mass_g'"]),
    "missing column": (_bad_missing_column, ["missing column(s) ['bill_depth_mm']"]),
    "empty file": (_bad_empty_file, ["the file is empty"]),
    "non-numeric value": (_bad_non_numeric, ["row 9, column 'flipper_length_mm': 'long' is not a number"]),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_stops_before_training_and_keeps_the_served_model(trained, tmp_path, case):
    workspace, _ = trained
    make_file, expected_messages = BAD_DATA[case]
    bad_file = make_file(tmp_path)
    served_before = tree_snapshot(_model_dir(workspace))
    models_before = len(workspace_store(workspace).get_artifacts_by_type("Model"))

    result = penguins("run", "--workspace", str(workspace), "--data", str(bad_file))

    output = result.stdout + result.stderr
    assert result.returncode == 3, output
    assert "Data rejected, nothing trained or pushed." in output
    for message in expected_messages:
        assert message in output
    assert not TRAINING_COMPONENTS & set(component_lines(result.stdout)), result.stdout
    assert len(workspace_store(workspace).get_artifacts_by_type("Model")) == models_before
    assert tree_snapshot(_model_dir(workspace)) == served_before


def test_worse_model_on_changed_data_is_not_pushed(trained, tmp_path):
    workspace, _ = trained
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(DEFAULT_CONFIG.parents[2] / "schema" / "penguins" / "schema.pbtxt")
    config["training"].update(epochs=1, learning_rate=0.0001)  # a candidate that has barely learned
    config["evaluation"]["min_accuracy"] = 0.0  # so only the comparison with the served model decides
    config_path = tmp_path / "worse.yaml"
    config_path.write_text(yaml.safe_dump(config))
    changed = write_rows(tmp_path / "no_2009.csv", [r for r in bundled_rows() if r["year"] != "2009"])
    served_before = tree_snapshot(_model_dir(workspace))

    result = penguins(
        "run", "--workspace", str(workspace), "--config", str(config_path), "--data", str(changed)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert component_lines(result.stdout)["Trainer"] == "ran"
    assert "Blessed:   no" in result.stdout
    assert "accuracy overall changed by -" in result.stdout
    assert "against the served model; at most 0.000 lower is allowed" in result.stdout
    assert "Pushed:    nothing" in result.stdout
    assert tree_snapshot(_model_dir(workspace)) == served_before
    summary = summarize(pipeline_runs(workspace_store(workspace), "penguins")[0])
    assert summary.overall.candidate < summary.overall.baseline


def _wait_for_transform_to_start(workspace, run: subprocess.Popen, output_path) -> None:
    """Until TFX has registered a new Transform execution, which creates its output folders.

    Watched on disk, every 0.1 s: Transform runs for only a few seconds, which polling
    `penguins history` (a process start each time) could miss.
    """
    before = set((workspace / "tfx" / "Transform").glob("*/*"))
    deadline = time.monotonic() + 300
    while not set((workspace / "tfx" / "Transform").glob("*/*")) - before:
        assert run.poll() is None and time.monotonic() < deadline, output_path.read_text()
        time.sleep(0.1)


def _start_uncached_run(workspace, output_path) -> subprocess.Popen:
    """`penguins run --no-cache` in the background, its output in `output_path`: Transform will run."""
    with output_path.open("w") as output:
        return subprocess.Popen(
            [str(PENGUINS), "run", "--workspace", str(workspace), "--no-cache"],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


def test_sigterm_mid_run_records_the_component_as_failed_and_keeps_the_served_model(trained, tmp_path):
    workspace, _ = trained
    served_before = tree_snapshot(_model_dir(workspace))
    output_path = tmp_path / "run.out"
    run = _start_uncached_run(workspace, output_path)
    try:
        _wait_for_transform_to_start(workspace, run, output_path)
        run.send_signal(signal.SIGTERM)
        returncode = run.wait(timeout=120)
    finally:
        run.kill()

    text = output_path.read_text()
    assert returncode == 130, text
    assert "Stopped by SIGTERM" in text and "nothing was pushed" in text
    assert component_lines(text)["Transform"] == "FAILED", text
    store = workspace_store(workspace)
    assert not [e for e in store.get_executions() if e.last_known_state == Execution.RUNNING]
    assert pipeline_runs(store, "penguins")[0].states["Transform"] == "FAILED"
    assert tree_snapshot(_model_dir(workspace)) == served_before
    with workspace_lock(workspace, "test"):  # released on the way out
        pass


def _history(workspace) -> list[dict]:
    result = penguins("history", "--workspace", str(workspace), "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.one_stack
def test_a_running_run_is_shown_running_and_one_killed_is_settled_once_by_the_next(trained, tmp_path):
    workspace, _ = trained
    served_before = tree_snapshot(_model_dir(workspace))
    output_path = tmp_path / "run.out"
    run = _start_uncached_run(workspace, output_path)
    try:
        _wait_for_transform_to_start(workspace, run, output_path)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=60)
    finally:
        run.kill()

    assert _history(workspace)[0]["status"] == "stopped without finishing at Transform"
    store = workspace_store(workspace)
    (killed,) = [e for e in store.get_executions() if e.last_known_state == Execution.RUNNING]
    orphans = list((workspace / "tfx" / "Transform").glob(f"*/{killed.id}"))
    assert orphans  # half-written outputs of the killed execution

    settling = penguins("run", "--workspace", str(workspace))
    assert settling.returncode == 0, settling.stdout + settling.stderr
    assert settling.stdout.count("stopped without finishing while Transform ran") == 1
    store = workspace_store(workspace)
    assert not [e for e in store.get_executions() if e.last_known_state == Execution.RUNNING]
    assert store.get_executions_by_id([killed.id])[0].last_known_state == Execution.CANCELED
    assert not [path for path in orphans if path.exists()]
    assert tree_snapshot(_model_dir(workspace)) == served_before
    killed_run = next(
        e for e in _history(workspace) if e["status"] == "stopped without finishing at Transform"
    )
    assert killed_run["pushed_version"] is None
    again = penguins("run", "--workspace", str(workspace))
    assert again.returncode == 0 and "stopped without finishing" not in again.stdout


def test_history_lists_runs_newest_first_with_their_decisions(trained):
    workspace, _ = trained
    result = penguins("history", "--workspace", str(workspace), "--json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    assert [e["started"] for e in entries] == sorted((e["started"] for e in entries), reverse=True)
    first = entries[-1]
    assert first["status"] == "completed" and first["validation"] == "passed"
    assert first["blessed"] is True
    assert first["pushed_version"] == str(list_versions(_model_dir(workspace))[0])
    slices = {a["name"]: a for a in first["accuracy"]}
    assert slices["overall"]["candidate"] >= 0.9 and "island=Dream" in slices
    for entry in entries:
        if entry["validation"].endswith("anomalies"):  # from the bad-data tests, when they ran first
            assert entry["status"] == "data rejected" and entry["pushed_version"] is None
    text = penguins("history", "--workspace", str(workspace))
    assert "data passed" in text.stdout and "blessed, pushed" in text.stdout


def _fruit_rows(count: int) -> list[dict[str, str]]:
    rng = np.random.default_rng(3)
    rows = []
    for index in range(count):
        kind = "apple" if index % 2 else "pear"
        weight = rng.normal(150 if kind == "apple" else 190, 12)
        rows.append(
            {
                "orchard": ["north", "south", "east"][index % 3],
                "kind": kind,
                "weight_g": f"{weight:.0f}",
                "sugar_pct": f"{rng.normal(11 if kind == 'apple' else 9, 0.8):.2f}",
            }
        )
    return rows


@pytest.mark.one_stack
def test_pipeline_is_dataset_agnostic(tmp_path):
    """A different label, feature set and column order: only config and schema change."""
    data = write_rows(tmp_path / "fruit.csv", _fruit_rows(240))
    config = {
        "name": "fruit",
        "data": {"source": str(data)},
        "schema": str(tmp_path / "fruit_schema.pbtxt"),
        "features": {"label": "kind", "numeric": ["weight_g", "sugar_pct"], "categorical": ["orchard"]},
        "split": {"train_buckets": 3, "eval_buckets": 1},
        "training": {"epochs": 15, "batch_size": 16, "hidden_units": [8], "learning_rate": 0.02},
        "evaluation": {"min_accuracy": 0.8, "max_accuracy_drop": 0.0, "slices": ["orchard"]},
        "serving": {"model_name": "fruit"},
    }
    config_path = tmp_path / "fruit.yaml"
    config_path.write_text(yaml.safe_dump(config))
    workspace = tmp_path / "workspace"

    inferred = penguins("schema", "infer", "--config", str(config_path), "--workspace", str(workspace),
                        "--out", config["schema"])  # fmt: skip
    assert inferred.returncode == 0, inferred.stdout + inferred.stderr
    # Through TFX's Beam orchestrator this time, with a Beam option passed through.
    result = penguins("run", "--config", str(config_path), "--workspace", str(workspace), "--runner", "beam",
                      "--beam-arg=--direct_num_workers=1")  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "beam runner" in result.stdout
    assert "island" not in result.stdout and "orchard=north" in result.stdout
    versions = list_versions(workspace / "serving" / "fruit")
    assert len(versions) == 1
    loaded = tf.saved_model.load(str(workspace / "serving" / "fruit" / str(versions[0])))
    outputs = loaded.signatures["serving_default"](
        orchard=tf.constant(["north", "south"]),
        weight_g=tf.constant([150.0, 195.0]),
        sugar_pct=tf.constant([11.2, 8.8]),
    )
    assert [s.decode() for s in outputs["kind"].numpy()] == ["apple", "pear"]


def test_missing_config_file_is_a_usage_error(tmp_path):
    result = penguins("run", "--config", str(tmp_path / "nope.yaml"), "--workspace", str(tmp_path))
    assert result.returncode == 2
    assert "nope.yaml: config file not found" in result.stderr
