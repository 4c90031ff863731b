"""The HTML report of a `penguins monitor` run: one self-contained file, plots as inline SVG.

A person deciding whether to retrain wants to see the trend, not one number: live accuracy over
time per version against the accuracy it was blessed with, each feature's serving distribution
against training, and the predicted-class mix over time.
"""

from __future__ import annotations

import html
import io
from pathlib import Path

import numpy
import pandas as pd
from matplotlib import dates
from matplotlib.figure import Figure  # not pyplot: no global state, no display backend

from components.features import FeatureSpec
from pipeline.monitoring.logged import PREDICTED, TIME_US, VERSION
from pipeline.monitoring.quality import LABEL
from pipeline.reporting.html_page import STYLE, table
from serving.store.atomic import write_text_atomically

_BUCKETS = 12  # time buckets of the over-time plots
_SHORTEST_SPAN = pd.Timedelta(minutes=1)  # a time axis shows at least this much


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _times(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame[TIME_US], unit="us")


def _time_axis(axis, times: pd.Series) -> None:
    """Ticks at round times and labels in the units of the span, the date once beside the axis.

    matplotlib's default labels a window of seconds `09:15.750000`; requests logged within a
    second, a common case, are shown on a minute, so that the ticks fall on whole seconds.
    """
    middle = times.min() + (times.max() - times.min()) / 2
    if times.max() - times.min() < _SHORTEST_SPAN:
        axis.set_xlim(middle - _SHORTEST_SPAN / 2, middle + _SHORTEST_SPAN / 2)
    locator = dates.AutoDateLocator()
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))


def _accuracy_over_time(joined: pd.DataFrame, versions: list[dict]) -> str:
    labeled = joined[joined[LABEL].notna()]
    if labeled.empty:
        return "<p>No labeled requests in the window.</p>"
    figure = Figure(figsize=(9, 3.5))
    axis = figure.subplots()
    bucket = pd.cut(labeled[TIME_US], bins=min(_BUCKETS, max(1, labeled[TIME_US].nunique())))
    for entry in versions:
        rows = labeled[labeled[VERSION] == entry["version"]]
        if rows.empty:
            continue
        correct = (rows[PREDICTED] == rows[LABEL]).groupby(bucket[rows.index], observed=True).mean()
        times = pd.to_datetime([interval.mid for interval in correct.index], unit="us")
        (line,) = axis.plot(times, correct.values, marker="o", label=f"version {entry['version']} live")
        if entry["blessed_accuracy"] is not None:
            axis.axhline(
                entry["blessed_accuracy"],
                color=line.get_color(),
                linestyle="--",
                label=f"version {entry['version']} blessed",
            )
    axis.set_ylim(0, 1.05)
    axis.set_ylabel("accuracy")
    axis.legend(fontsize="small")
    _time_axis(axis, _times(labeled))
    return _svg(figure)


def _distributions(joined: pd.DataFrame, training: dict[str, dict], spec: FeatureSpec) -> str:
    columns = list(spec.inputs)
    rows = (len(columns) + 2) // 3
    figure = Figure(figsize=(12, 3 * rows))
    axes = figure.subplots(rows, 3).ravel()
    for axis, column in zip(axes, columns, strict=False):
        trained = training.get(column)
        if column in spec.numeric:
            served = joined[column].dropna()
            edges = trained["edges"] if trained else numpy.histogram_bin_edges(served, bins=20)
            both = numpy.concatenate([numpy.asarray(edges, dtype=float), served.to_numpy()])
            bins = numpy.linspace(both.min(), both.max(), 25)
            axis.hist(served, bins=bins, density=True, alpha=0.5, label="serving")
            if trained:
                widths = numpy.diff(trained["edges"])
                total = sum(trained["counts"]) or 1
                axis.stairs(
                    numpy.array(trained["counts"]) / total / widths, trained["edges"], label="training"
                )
        else:
            served = joined[column].fillna("(missing)").value_counts(normalize=True)
            shares = trained["shares"] if trained else {}
            names = sorted(set(served.index) | set(shares))
            at = numpy.arange(len(names))
            axis.bar(at - 0.2, [served.get(n, 0) for n in names], 0.4, label="serving")
            axis.bar(at + 0.2, [shares.get(n, 0) for n in names], 0.4, label="training")
            axis.set_xticks(at, names)
        axis.set_title(column)
        axis.legend(fontsize="small")
    for axis in axes[len(columns) :]:
        axis.set_visible(False)
    return _svg(figure)


def _class_mix_over_time(joined: pd.DataFrame) -> str:
    if joined.empty:
        return "<p>No requests in the window.</p>"
    figure = Figure(figsize=(9, 3.5))
    axis = figure.subplots()
    bucket = pd.cut(joined[TIME_US], bins=min(_BUCKETS, max(1, joined[TIME_US].nunique())))
    mix = joined.groupby([bucket, PREDICTED], observed=True).size().unstack(fill_value=0)
    mix = mix.div(mix.sum(axis=1), axis=0)
    times = pd.to_datetime([interval.mid for interval in mix.index], unit="us")
    axis.stackplot(times, *[mix[name].values for name in mix.columns], labels=list(mix.columns))
    axis.set_ylabel("share of predictions")
    axis.legend(fontsize="small", loc="upper left")
    _time_axis(axis, _times(joined))
    return _svg(figure)


def write_monitor_report(
    path: Path, outcome: dict, joined: pd.DataFrame, training: dict[str, dict], spec: FeatureSpec
) -> Path:
    version_rows = [
        [
            v["version"],
            v["requests"],
            v["instances"],
            v["n"],
            _share(v["live_accuracy"]),
            _interval(v["ci95"]),
            _share(v["blessed_accuracy"]),
        ]
        for v in outcome["versions"]
    ]
    slice_rows = [
        [v["version"], s["slice"], s["n"], _share(s["live_accuracy"]), _interval(s["ci95"])]
        for v in outcome["versions"]
        for s in v["slices"]
    ]
    skew_rows = [[m["feature"], m["measure"], m["value"], m["threshold"], m["over"]] for m in outcome["skew"]]
    sections = [
        f"<h1>Monitoring, {html.escape(outcome['started'])}</h1>",
        f"<p>Decision: <b>{html.escape(outcome['decision'])}</b>: {html.escape(outcome['reason'])}.</p>",
        f"<p>{outcome['requests']} logged requests of {outcome['instances']} instances in the window, "
        f"{outcome['labeled']} instances labeled; "
        f"served version {outcome['served_version']}.</p>",
        "<h2>Live accuracy per version (95% Wilson interval)</h2>",
        table(
            [
                "version",
                "requests",
                "instances",
                "labeled",
                "live accuracy",
                "95% interval",
                "blessed accuracy",
            ],
            version_rows,
        ),
        _accuracy_over_time(joined, outcome["versions"]),
        "<h2>Live accuracy per slice</h2>",
        table(["version", "slice", "labeled", "live accuracy", "95% interval"], slice_rows),
        "<h2>Skew: served inputs against the served version's training data</h2>",
        table(
            ["feature", "measure", "value", "threshold", "over"],
            skew_rows,
            {i for i, m in enumerate(outcome["skew"]) if m["over"]},
        ),
        _distributions(joined[joined[VERSION] == outcome["served_version"]], training, spec),
        "<h2>Predicted-class mix against the training labels</h2>",
        table(
            ["class", "served", "training"],
            [[c["class"], c["served"], c["training"]] for c in outcome["class_mix"]],
        ),
        _class_mix_over_time(joined),
    ]
    page = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>monitoring "
        f"{html.escape(outcome['started'])}</title><style>{STYLE}</style></head><body>{''.join(sections)}</body></html>"
    )
    return write_text_atomically(path, page)


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(interval: list[float] | None) -> str:
    return "n/a" if interval is None else f"{interval[0]:.3f} to {interval[1]:.3f}"
