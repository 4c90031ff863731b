"""The Evaluator's confusion matrix reads each example as TFMA's general-purpose function would."""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow_model_analysis.metrics import metric_types, metric_util
from tensorflow_model_analysis.metrics import multi_class_confusion_matrix_metrics as confusion
from tensorflow_model_analysis.proto import config_pb2

from components.model.confusion_matrix import LabelAndPrediction, top_class_matrices

# The options TFMA's MultiClassConfusionMatrix combiner passes.
COMBINER_OPTIONS = {"flatten": False, "require_single_example_weight": True}
PROBABILITIES = np.array([0.2, 0.7, 0.1], dtype=np.float32)


def eval_config(*prediction_keys: str) -> config_pb2.EvalConfig:
    return config_pb2.EvalConfig(
        model_specs=[
            config_pb2.ModelSpec(name=f"model{i}" if len(prediction_keys) > 1 else "", prediction_key=key)
            for i, key in enumerate(prediction_keys)
        ]
    )


def inputs(label, prediction, weight=None) -> metric_types.StandardMetricInputs:
    extracts = {"labels": label, "predictions": prediction}
    if weight is not None:
        extracts["example_weights"] = weight
    return metric_types.StandardMetricInputs(extracts)


def both_readings(element, config, **names):
    """(ours, TFMA's) readings of one example, or the type of the error each raised."""
    readings = []
    for reader in (LabelAndPrediction(config), metric_util.to_label_prediction_example_weight):
        try:
            readings.append(list(reader(element, eval_config=config, **names, **COMBINER_OPTIONS)))
        except ValueError as error:
            readings.append(type(error))
    return readings


OUTPUTS = {"probabilities": PROBABILITIES, "classes": np.array([b"a", b"b", b"c"], dtype=object)}
CASES = {
    # The shapes the pipeline's model gives, and their neighbours.
    "int64 label of shape (1,)": (np.array([1]), OUTPUTS),
    "int32 label of shape ()": (np.array(2, dtype=np.int32), OUTPUTS),
    "label of shape (1, 1)": (np.array([[0]]), OUTPUTS),
    "float label": (np.array([1.0]), OUTPUTS),
    "unknown label, -1": (np.array([-1]), OUTPUTS),
    "probabilities of shape (1, 3)": (np.array([1]), {"probabilities": PROBABILITIES[np.newaxis]}),
    "one-hot label": (np.array([0, 1, 0]), OUTPUTS),
    # Shapes only TFMA's general path handles: its reading must stand.
    "string label with a vocabulary": (
        np.array([b"b"], dtype=object),
        {"probabilities": PROBABILITIES, "all_classes": np.array([b"a", b"b", b"c"], dtype=object)},
    ),
    "label keyed by name": ({"species": np.array([1])}, OUTPUTS),
    "prediction is not a dict": (np.array([1]), PROBABILITIES),
    "prediction key missing": (np.array([1]), {"scores": PROBABILITIES}),
    "no label": (None, OUTPUTS),
}


def assert_same(ours, tfmas):
    if isinstance(tfmas, type):
        assert ours is tfmas
        return
    assert len(ours) == len(tfmas) == 1
    for mine, theirs in zip(ours[0], tfmas[0], strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("case", CASES)
def test_reading_equals_tfmas(case):
    label, prediction = CASES[case]
    assert_same(*both_readings(inputs(label, prediction), eval_config("probabilities")))


BASELINE_CONFIG = config_pb2.EvalConfig(
    model_specs=[
        config_pb2.ModelSpec(name=name, prediction_key="probabilities", label_key="species_xf")
        for name in ("candidate", "baseline")
    ]
)
BASELINE_OUTPUTS = {"probabilities": np.array([0.6, 0.3, 0.1], dtype=np.float32)}
# With a baseline, TFMA keys labels and predictions by model name.
BY_MODEL = {"candidate": OUTPUTS, "baseline": BASELINE_OUTPUTS}
LABEL = np.array([1])
MODEL_CASES = {
    "labels by model": ({"candidate": np.array([1]), "baseline": np.array([2])}, BY_MODEL),
    "one label for both": (np.array([1]), BY_MODEL),
    # Where TFMA's reader finds the label by the label key, or by a prefix: its reading must stand.
    "label under the label key": ({"species_xf": np.array([0]), "candidate": np.array([1])}, BY_MODEL),
    "labels prefixed by the label key": ({"species_xf/a": np.array([0]), "candidate": LABEL}, BY_MODEL),
    "labels prefixed by the model name": ({"candidate/species": np.array([1])}, BY_MODEL),
    "predictions not by model": (np.array([1]), OUTPUTS),
    "predictions prefixed by the model name": (np.array([1]), {"candidate/probabilities": PROBABILITIES}),
}


@pytest.mark.parametrize("case", MODEL_CASES)
@pytest.mark.parametrize("model_name", ["candidate", "baseline"])
def test_reading_by_model_name_equals_tfmas(case, model_name):
    label, prediction = MODEL_CASES[case]
    ours, tfmas = both_readings(inputs(label, prediction), BASELINE_CONFIG, model_name=model_name)
    assert_same(ours, tfmas)


@pytest.mark.parametrize(
    "names, config",
    [
        ({"example_weighted": True}, eval_config("probabilities")),
        ({"model_name": "model1"}, eval_config("scores", "probabilities")),
        ({"model_name": "model2"}, eval_config("scores", "probabilities")),
        ({}, eval_config("")),
    ],
    ids=["weighted", "two models", "unknown model", "no prediction key"],
)
def test_weights_model_names_and_default_keys_read_as_tfma_does(names, config):
    outputs = {"model1": {"probabilities": PROBABILITIES}, "probabilities": PROBABILITIES}
    weighted = inputs(np.array([1]), outputs)
    weighted["example_weights"] = np.array([2.5], dtype=np.float32)
    ours, tfmas = both_readings(weighted, config, **names)
    assert_same(ours, tfmas)


def test_the_pipelines_inputs_do_not_go_through_tfmas_reader(monkeypatch):
    """The speed-up covers both the first run (one model) and every run with a served model."""

    def refused(*args, **kwargs):
        raise AssertionError("TFMA's general reader was called")

    monkeypatch.setattr(metric_util, "to_label_prediction_example_weight", refused)
    pipeline_shapes = [
        (eval_config("probabilities"), "", inputs(np.array([[1]]), OUTPUTS)),
        (BASELINE_CONFIG, "candidate", inputs(*MODEL_CASES["labels by model"])),
        (BASELINE_CONFIG, "baseline", inputs(*MODEL_CASES["labels by model"])),
    ]
    for config, model_name, element in pipeline_shapes:
        (reading,) = LabelAndPrediction(config)(element, eval_config=config, model_name=model_name)
        assert reading[1] is element.prediction.get(model_name, element.prediction)["probabilities"]


def test_matrix_counts_as_tfmas_combiner():
    """The whole combiner, fed the same examples with either reader, gives the same matrix."""
    config = eval_config("probabilities")
    rng = np.random.default_rng(3)
    examples = [
        inputs(np.array([rng.integers(3)]), {"probabilities": rng.dirichlet([1, 1, 1]).astype(np.float32)})
        for _ in range(300)
    ]
    (ours,) = top_class_matrices(config, "", "", False)
    (tfmas,) = confusion.multi_class_confusion_matrices(thresholds=[0.0], eval_config=config)
    matrices = []
    for computation in (ours, tfmas):
        combiner = computation.combiner
        accumulator = combiner.create_accumulator()
        for example in examples:
            accumulator = combiner.add_input(accumulator, example)
        matrices.append(combiner.extract_output(accumulator)[computation.keys[0]])
    assert ours.keys == tfmas.keys
    assert matrices[0] == matrices[1]
    assert sum(matrices[0][0.0].values()) == len(examples)
