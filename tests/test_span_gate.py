"""The span gate on real SavedModels and real gzipped Examples shards, as TFX's ExampleGen writes them.

Its right answers per span are checked against the models' `serving_default` signature called on
the same birds as a server would (tests/helpers.py), a path that shares nothing with the gate's
reading of serialized examples.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.custom.evaluation_keys import GATE_REASONS_KEY, SPAN_EVALUATION_KEY
from tests.conftest import serialized_examples
from tests.helpers import predict_in_process

EARLIER, NEWEST = 0, 3


def _examples(tmp_path: Path, span: int, serialized: list[bytes]):
    import tensorflow as tf
    from tfx.types import artifact_utils, standard_artifacts

    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path / f"examples-span-{span}")
    artifact.split_names = artifact_utils.encode_split_names(["train", "eval"])
    artifact.set_int_custom_property("span", span)
    for split, records in (("train", serialized[:2]), ("eval", serialized)):
        folder = Path(artifact.uri) / f"Split-{split}"
        folder.mkdir(parents=True)
        with tf.io.TFRecordWriter(str(folder / "data_tfrecord-00000-of-00001.gz"), "GZIP") as writer:
            for record in records:
                writer.write(record)
    return artifact


def _model(tmp_path: Path, name: str, saved_model: Path):
    from tfx.types import standard_artifacts

    artifact = standard_artifacts.Model()
    artifact.uri = str(tmp_path / name)
    Path(artifact.uri).mkdir()
    (Path(artifact.uri) / "Format-Serving").symlink_to(saved_model)
    return artifact


def _blessing(tmp_path: Path, name: str, blessed: int | None = None):
    from tfx.types import standard_artifacts

    artifact = standard_artifacts.ModelBlessing()
    artifact.uri = str(tmp_path / name)
    Path(artifact.uri).mkdir()
    if blessed is not None:
        artifact.set_int_custom_property("blessed", blessed)
    return artifact


def _right_answers(saved_model: Path, instances: list[dict], label: str) -> int:
    birds = [
        {name: (values[0].decode() if values and isinstance(values[0], bytes) else values[0] if values else
                ("" if name in ("island", "sex") else float("nan")))
         for name, values in instance.items() if name != label}
        for instance in instances
    ]  # fmt: skip
    predicted, _ = predict_in_process(saved_model, birds)
    return sum(p == instance[label][0].decode() for p, instance in zip(predicted, instances, strict=True))


@pytest.fixture()
def run_gate(tmp_path, settings, raw_instances, transform_output_dir):
    """Runs the gate's executor on two spans of the sample; returns its blessing."""
    import tensorflow_transform as tft

    from components.custom.span_gate import SpanGateExecutor

    spec = tft.TFTransformOutput(str(transform_output_dir)).raw_feature_spec()
    halves = {EARLIER: raw_instances[:30], NEWEST: raw_instances[30:]}
    window = [_examples(tmp_path, span, serialized_examples(part, spec)) for span, part in halves.items()]

    def run(candidate: Path, served: Path | None, evaluator_blessed: int, feedback: bool):
        output = _blessing(tmp_path, f"gate-{len(list(tmp_path.iterdir()))}")
        inputs = {
            "examples": window,
            "model": [_model(tmp_path, f"candidate-{output.uri[-2:]}", candidate)],
            "baseline_model": [_model(tmp_path, f"served-{output.uri[-2:]}", served)] if served else [],
            "evaluator_blessing": [_blessing(tmp_path, f"evaluator-{output.uri[-2:]}", evaluator_blessed)],
        }
        properties = {
            "label_key": settings.features.label,
            "newest_span": NEWEST,
            "max_accuracy_drop": 0.0,
            "newest_must_improve": int(feedback),
        }
        SpanGateExecutor().Do(inputs, {"blessing": [output]}, properties)
        return output, halves

    return run


def test_right_answers_per_span_are_those_of_the_served_signature(
    run_gate, exported_model_dir, other_model_dir, settings
):
    blessing, halves = run_gate(exported_model_dir, other_model_dir, evaluator_blessed=1, feedback=False)
    evaluation = json.loads(blessing.get_string_custom_property(SPAN_EVALUATION_KEY))
    by_span = {entry["span"]: entry for entry in evaluation["spans"]}
    label = settings.features.label
    for span, instances in halves.items():
        entry = by_span[span]
        assert entry["role"] == ("new" if span == NEWEST else "earlier")
        assert entry["examples"] == len(instances)
        assert entry["candidate"] == _right_answers(exported_model_dir, instances, label) / len(instances)
        assert entry["served"] == _right_answers(other_model_dir, instances, label) / len(instances)
    assert evaluation["earlier"]["examples"] == len(halves[EARLIER])


def test_a_candidate_worse_on_the_earlier_span_is_not_blessed(run_gate, exported_model_dir, train_model):
    untrained = train_model(3, 0)  # its initial weights: far worse than the trained model it would replace
    blessing, _ = run_gate(untrained, exported_model_dir, evaluator_blessed=1, feedback=True)
    reasons = json.loads(blessing.get_string_custom_property(GATE_REASONS_KEY))
    evaluation = json.loads(blessing.get_string_custom_property(SPAN_EVALUATION_KEY))
    earlier = evaluation["earlier"]
    assert earlier["candidate"] < earlier["served"], evaluation
    assert any(reason.startswith("accuracy on the earlier data (span 0, n=30)") for reason in reasons)
    assert blessing.get_int_custom_property("blessed") == 0
    assert sorted(p.name for p in Path(blessing.uri).iterdir()) == ["NOT_BLESSED"]


def test_the_same_model_is_blessed_unless_it_must_improve_or_the_evaluator_refused(
    run_gate, exported_model_dir
):
    same, _ = run_gate(exported_model_dir, exported_model_dir, evaluator_blessed=1, feedback=False)
    assert same.get_int_custom_property("blessed") == 1
    assert sorted(p.name for p in Path(same.uri).iterdir()) == ["BLESSED"]
    must_improve, _ = run_gate(exported_model_dir, exported_model_dir, evaluator_blessed=1, feedback=True)
    assert must_improve.get_int_custom_property("blessed") == 0
    assert "no better than the served model" in must_improve.get_string_custom_property(GATE_REASONS_KEY)
    refused, _ = run_gate(exported_model_dir, exported_model_dir, evaluator_blessed=0, feedback=False)
    assert refused.get_int_custom_property("blessed") == 0
    assert json.loads(refused.get_string_custom_property(GATE_REASONS_KEY)) == []  # the Evaluator says why


def test_with_nothing_served_the_evaluator_decides_and_the_candidate_is_still_measured(
    run_gate, exported_model_dir
):
    blessing, halves = run_gate(exported_model_dir, None, evaluator_blessed=1, feedback=True)
    assert blessing.get_int_custom_property("blessed") == 1
    evaluation = json.loads(blessing.get_string_custom_property(SPAN_EVALUATION_KEY))
    assert [entry["served"] for entry in evaluation["spans"]] == [None, None]
    assert [entry["examples"] for entry in evaluation["spans"]] == [len(halves[EARLIER]), len(halves[NEWEST])]
