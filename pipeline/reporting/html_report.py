"""The HTML report of a retraining run: one self-contained file a person can open or attach.

Plots are where a person would rather look than read: the newest span's feature distributions
against the previous span's, accuracy per slice for the candidate and the served model, and the
candidate's confusion matrix. Images are embedded as PNG data, so the file stands alone.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import re
from pathlib import Path

import numpy
import pandas as pd
from matplotlib.figure import Figure  # not pyplot: no global state, no display backend

from pipeline.config.settings import Settings
from pipeline.config.workspace import Workspace
from pipeline.definition import node_ids
from pipeline.intake.sources import CLEAN_FILE
from pipeline.reporting.html_page import STYLE, table
from pipeline.reporting.metadata import RunRecord
from pipeline.reporting.summary import RunSummary, evaluated_on
from serving.store.atomic import write_text_atomically


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _span_frame(workspace: Workspace, span: int | None) -> pd.DataFrame | None:
    if span is None:
        return None
    path = workspace.spans / f"span-{span}" / CLEAN_FILE
    return pd.read_csv(path) if path.is_file() else None


def _distributions(
    settings: Settings, newest: pd.DataFrame, previous: pd.DataFrame | None, spans, drift: list[dict]
) -> str:
    features = settings.features
    columns = [features.label, *features.inputs]
    rows = (len(columns) + 2) // 3
    figure = Figure(figsize=(13, 3.2 * rows))
    axes = figure.subplots(rows, 3).ravel()
    frames = [(f"span {spans[0]} (newest)", newest, "tab:orange")]
    if previous is not None:
        frames.insert(0, (f"span {spans[1]} (previous)", previous, "tab:blue"))
    for axis, column in zip(axes, columns, strict=False):
        if column in features.numeric:
            values = pd.concat([frame[column] for _, frame, _ in frames]).dropna()
            bins = numpy.histogram_bin_edges(values, bins=20)
            for label, frame, color in frames:
                axis.hist(
                    frame[column].dropna(), bins=bins, alpha=0.5, density=True, label=label, color=color
                )
        else:
            shares = pd.DataFrame(
                {
                    label: frame[column].fillna("(missing)").value_counts(normalize=True)
                    for label, frame, _ in frames
                }
            ).fillna(0)
            shares.plot.bar(ax=axis, color=[color for _, _, color in frames], alpha=0.7, legend=False, rot=0)
        measured = next((m for m in drift if m["feature"] == column), None)
        title = f"{column}  ({measured['measure']} {measured['value']})" if measured else column
        axis.set_title(title, color="#b00020" if measured and measured["drifted"] else "black")
    axes[0].legend(fontsize=8)
    for axis in axes[len(columns) :]:
        axis.set_visible(False)
    figure.tight_layout()
    return _png(figure)


def _slice_metrics(summary: RunSummary) -> str:
    items = [item for item in summary.accuracy if item.candidate is not None]
    if not items:
        return "<p>Not evaluated: the run stopped before the Evaluator.</p>"
    names = [item.name for item in items]
    figure = Figure(figsize=(10, 0.45 * len(items) + 1.2))
    axis = figure.subplots()
    positions = range(len(items))
    axis.barh([p + 0.2 for p in positions], [i.candidate for i in items], height=0.4, label="candidate")
    if any(item.baseline is not None for item in items):
        baselines = [i.baseline or 0.0 for i in items]
        axis.barh([p - 0.2 for p in positions], baselines, height=0.4, label="served model (baseline)")
    axis.set_yticks(list(positions), names)
    axis.set_xlim(0, 1.05)
    axis.set_xlabel("accuracy")
    axis.invert_yaxis()
    axis.legend(loc="lower right", fontsize=8)
    rows = [
        [i.name, f"{i.candidate:.3f}", "n/a" if i.baseline is None else f"{i.baseline:.3f}", i.examples]
        for i in items
    ]
    where = f"<p>On {html.escape(evaluated_on(summary))}.</p>"
    return where + _png(figure) + table(["slice", "candidate", "served model", "examples"], rows)


def _span_accuracy(summary: RunSummary) -> str:
    if not summary.span_accuracy:
        return "<p>Not measured: the run stopped before the span gate.</p>"

    def number(value):
        return "n/a" if value is None else f"{value:.3f}"

    entries = [*summary.span_accuracy]
    if summary.earlier_accuracy and len(entries) > 2:
        entries.append({"span": "earlier spans together", "role": "earlier", **summary.earlier_accuracy})
    rows = [
        [e["span"], e["role"], number(e["candidate"]), number(e["served"]), e["examples"]] for e in entries
    ]
    return (
        "<p>The candidate must be no worse than the served model on the earlier spans together, and on "
        "the new span no worse (better, for a feedback span of a quality dip).</p>"
        + table(["span", "data", "candidate", "served model", "eval examples"], rows)
    )


def _confusion_matrix(record: RunRecord, label: str) -> str:
    import tensorflow_model_analysis as tfma
    import tensorflow_transform as tft

    evaluation = record.output(node_ids.EVALUATOR, "evaluation")
    transform_graph = record.output(node_ids.TRANSFORM, "transform_graph")
    if evaluation is None or transform_graph is None:
        return "<p>Not evaluated: the run stopped before the Evaluator.</p>"
    vocabulary = tft.TFTransformOutput(transform_graph.uri).vocabulary_by_name(label)
    classes = [c.decode() if isinstance(c, bytes) else c for c in vocabulary]
    counts = [[0.0] * len(classes) for _ in classes]
    for plots in tfma.load_plots(evaluation.uri):
        if plots.slice_key.single_slice_keys:
            continue
        for entry in plots.plot_keys_and_values:
            if entry.key.model_name == "baseline":
                continue
            for matrix in entry.value.multi_class_confusion_matrix_at_thresholds.matrices[:1]:
                for cell in matrix.entries:
                    if cell.actual_class_id < len(classes) and cell.predicted_class_id < len(classes):
                        counts[cell.actual_class_id][cell.predicted_class_id] += cell.num_weighted_examples
    figure = Figure(figsize=(4.5, 4))
    axis = figure.subplots()
    axis.imshow(counts, cmap="Blues")
    axis.set_xticks(range(len(classes)), classes, rotation=30)
    axis.set_yticks(range(len(classes)), classes)
    axis.set_xlabel("predicted")
    axis.set_ylabel("actual")
    for actual, row in enumerate(counts):
        for predicted, count in enumerate(row):
            axis.text(predicted, actual, f"{count:.0f}", ha="center", va="center")
    axis.set_title("candidate, eval split")
    return _png(figure)


def _anomalies(summary: RunSummary | None, rejection: str | None) -> str:
    parts = []
    if summary is not None and summary.anomalies is not None:
        problems = summary.anomalies
        parts.append(
            table(["schema anomaly"], [[p] for p in problems], set(range(len(problems))))
            if problems
            else "<p class=good>No schema anomalies in the newest span.</p>"
        )
    if summary is not None and summary.drift_against_span is not None:
        rows = [
            [m["feature"], m["measure"], m["value"], m["threshold"], "yes" if m["drifted"] else "no"]
            for m in summary.drift
        ]
        bad = {index for index, m in enumerate(summary.drift) if m["drifted"]}
        parts.append(f"<p>Drift of the newest span against span {summary.drift_against_span}:</p>")
        parts.append(table(["feature", "measure", "value", "threshold", "drifted"], rows, bad))
    elif summary is not None:
        parts.append("<p>No drift check: there is no earlier span to compare with.</p>")
    if rejection:
        parts.append(f"<p class=bad>The run was stopped:</p><pre>{html.escape(rejection)}</pre>")
    return "".join(parts)


def _outcome(summary: RunSummary | None, rejection: str | None) -> str:
    if rejection:
        return "<span class=bad>data rejected; nothing trained or pushed</span>"
    if summary is None or summary.blessed is None:
        return "<span class=bad>failed before evaluation; nothing pushed</span>"
    if not summary.blessed:
        reasons = "; ".join(summary.reasons)
        return f"<span class=bad>not blessed ({html.escape(reasons)}); nothing pushed</span>"
    if summary.pushed_version and not summary.already_served:
        return f"<span class=good>blessed and pushed as version {summary.pushed_version}</span>"
    return "<span class=good>blessed; already served, nothing new pushed</span>"


def write_report(
    settings: Settings,
    workspace: Workspace,
    record: RunRecord,
    summary: RunSummary | None,
    rejection: str | None,
) -> Path:
    """Writes `workspace/reports/<run>.html` and returns its path."""
    newest_span = summary.newest_span if summary else None
    previous_span = summary.drift_against_span if summary else None
    newest = _span_frame(workspace, newest_span)
    started = datetime.datetime.fromtimestamp(record.started_ms / 1000).isoformat(timespec="seconds")
    sections = [
        f"<h1>Retraining run {html.escape(record.run_id)}</h1>",
        f"<p>Started {started}. Outcome: {_outcome(summary, rejection)}.</p>",
    ]
    if summary and summary.spans:
        sections.append(f"<p>Trained on spans {', '.join(map(str, summary.spans))}.</p>")
    sections.append("<h2>Feature distributions: newest span against the previous one</h2>")
    if newest is not None:
        previous = _span_frame(workspace, previous_span)
        drift = summary.drift if summary else []
        sections.append(_distributions(settings, newest, previous, [newest_span, previous_span], drift))
    else:
        sections.append("<p>The run stopped before the newest span was read.</p>")
    sections.append("<h2>Anomalies and drift</h2>")
    sections.append(_anomalies(summary, rejection))
    sections.append("<h2>Accuracy per slice: candidate against the served model</h2>")
    sections.append(_slice_metrics(summary) if summary else "<p>Not evaluated.</p>")
    sections.append("<h2>Accuracy per span: the old data against the new</h2>")
    sections.append(_span_accuracy(summary) if summary else "<p>Not evaluated.</p>")
    sections.append("<h2>Confusion matrix</h2>")
    sections.append(_confusion_matrix(record, settings.features.label))
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(settings.name)} retraining "
        f"{html.escape(record.run_id)}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    path = (
        workspace.root / "reports" / f"retrain-{re.sub(r'[^0-9A-Za-z]+', '-', record.run_id).strip('-')}.html"
    )
    return write_text_atomically(path, page)
