"""What a finished run tells its user: data checked, accuracy by slice, blessed or not and why,
and where the pushed model is. Read from the run's artifacts in MLMD."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import tensorflow_model_analysis as tfma
from tensorflow_metadata.proto.v0 import statistics_pb2

from components.custom.drift import MEASUREMENTS_KEY
from components.custom.evaluation_keys import (
    EVALUATED_EXAMPLES_KEY,
    GATE_REASONS_KEY,
    SPAN_EVALUATION_KEY,
    SPLIT_EXAMPLES_KEY,
)
from components.custom.pusher import ALREADY_SERVED_KEY, ROLLED_BACK_KEY
from components.custom.validation_gate import describe_anomalies
from pipeline.definition import node_ids
from pipeline.definition.evaluation import ACCURACY_METRIC
from pipeline.reporting.history_text import span_accuracy_rows
from pipeline.reporting.metadata import RunRecord, custom_property

OVERALL = "overall"


@dataclasses.dataclass
class SliceAccuracy:
    name: str
    candidate: float | None
    baseline: float | None
    examples: int | None


@dataclasses.dataclass
class EvaluatedSample:
    examples: int
    of: int  # the eval split's examples


@dataclasses.dataclass
class RunSummary:
    """What a run decided, read from its record once, for every report of it: the run's own lines,
    `penguins history`, `penguins versions`, the retrain's HTML report and its rejection record."""

    examples_by_split: dict[str, int]
    anomalies: list[str] | None  # the schema anomalies found, one line each; None: validation not reached
    accuracy: list[SliceAccuracy]
    blessed: bool | None
    reasons: list[str]
    pushed_version: str | None
    pushed_path: str | None
    already_served: bool
    rolled_back: bool
    # Set when the Evaluator decided on a random sample of the eval split.
    sample: EvaluatedSample | None = None
    # Retraining runs only: the spans trained on, and the drift of the newest span.
    spans: list[int] = dataclasses.field(default_factory=list)
    newest_span: int | None = None
    drift_against_span: int | None = None
    drift: list[dict] = dataclasses.field(default_factory=list)
    # Retraining runs that reached the span gate: each span's eval accuracy, candidate and served
    # model (`span`, `role` earlier or new, `examples`, `candidate`, `served`), and the earlier
    # spans taken together, which the gate compares.
    span_accuracy: list[dict] = dataclasses.field(default_factory=list)
    earlier_accuracy: dict | None = None
    newest_must_improve: bool = False  # the newest span was a feedback span: the candidate had to win on it

    @property
    def drifted(self) -> list[dict]:
        return [m for m in self.drift if m["drifted"]]

    @property
    def overall(self) -> SliceAccuracy | None:
        return next((s for s in self.accuracy if s.name == OVERALL), None)


def _examples_by_split(statistics_uri: str) -> dict[str, int]:
    counts = {}
    for path in sorted(Path(statistics_uri).glob("Split-*/FeatureStats.pb")):
        stats = statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())
        counts[path.parent.name.removeprefix("Split-")] = sum(d.num_examples for d in stats.datasets)
    return counts


def _slice_name(slice_key) -> str:
    if not slice_key.single_slice_keys:
        return OVERALL
    parts = []
    for key in slice_key.single_slice_keys:
        kind = key.WhichOneof("kind")
        value = getattr(key, kind)
        parts.append(f"{key.column}={value.decode() if isinstance(value, bytes) else value}")
    return ", ".join(parts)


def _slice_accuracies(evaluation_uri: str) -> list[SliceAccuracy]:
    slices = []
    for metrics in tfma.load_metrics(evaluation_uri):
        values = {}
        for entry in metrics.metric_keys_and_values:
            if entry.key.is_diff:
                continue
            role = "baseline" if entry.key.model_name == "baseline" else "candidate"
            values[(entry.key.name, role)] = entry.value.double_value.value
        count = values.get(("example_count", "candidate"))
        slices.append(
            SliceAccuracy(
                name=_slice_name(metrics.slice_key),
                candidate=values.get((ACCURACY_METRIC, "candidate")),
                baseline=values.get((ACCURACY_METRIC, "baseline")),
                examples=int(count) if count is not None else None,
            )
        )
    return sorted(slices, key=lambda s: (s.name != OVERALL, s.name))


def _failure_reason(slice_name: str, failure) -> str:
    """E.g. "accuracy 0.870 overall is below the minimum 0.9", from TFMA's bare failure record."""
    value = failure.metric_value.double_value.value
    name = "accuracy" if failure.metric_key.name == ACCURACY_METRIC else failure.metric_key.name
    threshold = failure.metric_threshold
    where = "overall" if slice_name == OVERALL else f"on {slice_name}"
    if failure.metric_key.is_diff and threshold.HasField("change_threshold"):
        allowed = -threshold.change_threshold.absolute.value
        return (
            f"{name} {where} changed by {value:+.3f} against the served model; "
            f"at most {allowed:.3f} lower is allowed"
        )
    if threshold.HasField("value_threshold"):
        return (
            f"{name} {value:.3f} {where} is below the minimum {threshold.value_threshold.lower_bound.value}"
        )
    return failure.message or f"{name} {where} failed its threshold"


def _failure_reasons(evaluation_uri: str) -> list[str]:
    result = tfma.load_validation_result(evaluation_uri)
    return [
        _failure_reason(_slice_name(per_slice.slice_key), failure)
        for per_slice in result.metric_validations_per_slice
        for failure in per_slice.failures
    ]


def spans_of(artifacts) -> list[int]:
    return sorted(custom_property(artifact, "span") for artifact in artifacts)


def _on_disk(artifact):
    return artifact if artifact is not None and Path(artifact.uri).exists() else None


def _sample(evaluation) -> EvaluatedSample | None:
    evaluated = custom_property(evaluation, EVALUATED_EXAMPLES_KEY)
    split = custom_property(evaluation, SPLIT_EXAMPLES_KEY)
    return EvaluatedSample(evaluated, split) if evaluated is not None and evaluated < split else None


def evaluated_on(summary: RunSummary) -> str:
    if summary.sample is None:
        return "the eval split"
    return (
        f"a random sample of {summary.sample.examples} of the {summary.sample.of} eval examples, "
        "clear of every bar"
    )


def summarize(record: RunRecord) -> RunSummary:
    """Reads what the run's artifacts say, once: their properties in MLMD, and the statistics,
    anomalies and evaluation files they point to."""
    # Files of old runs may have been deleted to save space; their properties in MLMD remain.
    validator = record.output(node_ids.EXAMPLE_VALIDATOR, "anomalies")
    statistics = _on_disk(record.output(node_ids.STATISTICS_GEN, "statistics"))
    drift = record.output(node_ids.DRIFT_CHECK, "drift")
    model = record.output(node_ids.TRAINER, "model")
    measurements = custom_property(drift, MEASUREMENTS_KEY)
    evaluation_record = record.output(node_ids.EVALUATOR, "evaluation")
    evaluation = _on_disk(evaluation_record)
    blessing = record.output(node_ids.EVALUATOR, "blessing")
    gate = record.output(node_ids.SPAN_GATE, "blessing")
    span_evaluation = json.loads(custom_property(gate, SPAN_EVALUATION_KEY) or "{}")
    # A Pusher taken from TFX's cache (before it was made never to be) pushed nothing in this run.
    pusher_ran = record.states.get(node_ids.PUSHER) == "COMPLETE"
    pushed = record.output(node_ids.PUSHER, "pushed_model") if pusher_ran else None
    evaluator_blessed = custom_property(blessing, "blessed")
    # The span gate has the last word in a retrain; its blessing requires the Evaluator's.
    blessed_value = custom_property(gate, "blessed") if gate is not None else evaluator_blessed
    reasons = _failure_reasons(evaluation.uri) if evaluation and not evaluator_blessed else []
    return RunSummary(
        examples_by_split=_examples_by_split(statistics.uri) if statistics else {},
        anomalies=describe_anomalies(validator.uri, ["train", "eval"]) if validator else None,
        accuracy=_slice_accuracies(evaluation.uri) if evaluation else [],
        blessed=None if blessed_value is None else bool(blessed_value),
        reasons=reasons + json.loads(custom_property(gate, GATE_REASONS_KEY) or "[]"),
        pushed_version=custom_property(pushed, "pushed_version")
        if custom_property(pushed, "pushed")
        else None,
        pushed_path=custom_property(pushed, "pushed_destination"),
        already_served=bool(custom_property(pushed, ALREADY_SERVED_KEY)),
        rolled_back=bool(custom_property(pushed, ROLLED_BACK_KEY)),
        sample=_sample(evaluation_record),
        # The window is resolved before the gate; only a run that trained used it.
        spans=spans_of(record.all_outputs(node_ids.SPAN_WINDOW_RESOLVER, "examples")) if model else [],
        newest_span=next(iter(spans_of(record.all_outputs(node_ids.SPAN_EXAMPLE_GEN, "examples"))), None),
        drift_against_span=next(
            iter(spans_of(record.all_outputs(node_ids.PREVIOUS_SPAN_RESOLVER, "examples"))), None
        ),
        drift=json.loads(measurements) if measurements else [],
        span_accuracy=span_evaluation.get("spans", []),
        earlier_accuracy=span_evaluation.get("earlier"),
        newest_must_improve=span_evaluation.get("newest_must_improve", False),
    )


def _accuracy_text(item: SliceAccuracy) -> str:
    text = f"{item.candidate:.3f}" if item.candidate is not None else "n/a"
    if item.baseline is not None:
        text += f" (served model {item.baseline:.3f})"
    if item.examples is not None:
        text += f"  n={item.examples}"
    return text


def span_accuracy_lines(summary: RunSummary) -> list[str]:
    """Eval accuracy span by span, as the span gate measured it, and the earlier spans together."""
    rows = span_accuracy_rows(summary.span_accuracy, summary.earlier_accuracy)
    return [
        f"{'Per span:' if index == 0 else '':<11}{name:<22} {text}" for index, (name, text) in enumerate(rows)
    ]


def drift_lines(summary: RunSummary) -> list[str]:
    """Drift of the newest span in a few lines: the drifted features with value and threshold."""
    if summary.newest_span is None:
        return []
    if summary.drift_against_span is None:
        return [f"Drift:     not checked; no span before span {summary.newest_span} to compare with"]
    if not summary.drifted:
        largest = max(summary.drift, key=lambda m: m["value"] / m["threshold"], default=None)
        closest = (
            f"; closest: {largest['feature']} {largest['measure']} {largest['value']} "
            f"(threshold {largest['threshold']})"
            if largest
            else ""
        )
        return [f"Drift:     none against span {summary.drift_against_span}{closest}"]
    lines = [f"Drift:     against span {summary.drift_against_span}, beyond threshold:"]
    lines.extend(
        f"           - {m['feature']}: {m['measure']} {m['value']} > {m['threshold']}"
        for m in summary.drifted
    )
    return lines


def format_summary(summary: RunSummary, schema_path: Path, min_accuracy: float, max_drop: float) -> list[str]:
    splits = ", ".join(f"{count} {split}" for split, count in summary.examples_by_split.items())
    span = f"span {summary.newest_span} " if summary.newest_span is not None else ""
    lines = [f"Data:      {span}validated against {schema_path}: no anomalies ({splits} examples)"]
    lines.extend(drift_lines(summary))
    if summary.spans:
        lines.append(f"Trained on spans {', '.join(map(str, summary.spans))}")
    overall = summary.overall
    if overall:
        lines.append(f"Accuracy:  {_accuracy_text(overall)} on {evaluated_on(summary)}")
        for item in summary.accuracy:
            if item is not overall:
                lines.append(f"           {item.name:<22} {_accuracy_text(item)}")
    lines.extend(span_accuracy_lines(summary))
    if summary.blessed:
        has_baseline = overall is not None and overall.baseline is not None
        why = f"accuracy >= {min_accuracy}" + (
            f" and no more than {max_drop} below the served model"
            if has_baseline
            else "; no model was served yet"
        )
        if has_baseline and summary.earlier_accuracy:
            why += ", on the earlier spans too"
        if has_baseline and summary.newest_must_improve:
            why += ", and better on the new span"
        lines.append(f"Blessed:   yes ({why})")
    elif summary.blessed is False:
        lines.append("Blessed:   no")
        lines.extend(f"           - {reason}" for reason in summary.reasons)
    if summary.pushed_version and summary.already_served:
        lines.append(f"Pushed:    nothing new; this model is already served as {summary.pushed_path}")
    elif summary.pushed_version:
        lines.append(f"Pushed:    version {summary.pushed_version} to {summary.pushed_path}")
    elif summary.rolled_back:
        lines.append("Pushed:    nothing; this model was rolled back out of service earlier")
    else:
        lines.append("Pushed:    nothing; the served model is unchanged")
    return lines
