"""The servers' Prometheus metrics, for GET /monitoring/prometheus/metrics on the REST port.

Requests are counted under TF Serving's own names and labels (tensorflow_serving/servables/
tensorflow/util.cc), so that one dashboard fits TF Serving and `penguins serve` alike:
`:tensorflow:serving:request_count{model_name,status}`, status the canonical code name (OK,
INVALID_ARGUMENT, NOT_FOUND, ...), and `:tensorflow:serving:request_latency{model_name,API,
entrypoint}`, a histogram in microseconds with TF Serving's buckets (10 µs growing by 1.8, 33 of
them) and, as there, only for requests that succeeded. As TF Serving does, REST counts every
request under /v1/models (status and metadata too) and gRPC counts Predict. The count is
declared untyped: prometheus_client would write a counter as `..._total`, another series than
TF Serving's; Prometheus stores the samples the same either way.

A model name the server does not serve is counted under model_name="" rather than as its own
series, so that clients cannot grow the page without bound by asking for made-up models.

The project's own metrics: predictions per class and served version, request-log records
dropped (read from the RequestLog at scrape time), and the latest `penguins monitor` outcome,
read from its JSON file at scrape time: live and blessed accuracy per version, skew per feature,
the decision. No file gives no such samples; a file that cannot be read or does not have the
expected shape gives none either, and a warning in the server's log, once per change of the file.

Recording a request takes a lock, a dict update and a bisection: a few microseconds.
"""

from __future__ import annotations

import bisect
import collections
import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from serving.client import CLASSES, PROBABILITIES
from serving.monitoring.request_log import RequestLog

LOG = logging.getLogger(__name__)
METRICS_PATH = "/monitoring/prometheus/metrics"  # TF Serving's, from serving/monitoring.config
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
REQUEST_COUNT = ":tensorflow:serving:request_count"
REQUEST_LATENCY = ":tensorflow:serving:request_latency"
REST, GRPC = "REST", "GRPC"  # TF Serving's `entrypoint` label values
# TF Serving's Buckets::Exponential(10, 1.8, 33): from 10 µs to about 24 minutes.
LATENCY_BUCKETS = tuple(10 * 1.8**i for i in range(33))
# The canonical code names TF Serving counts under, from the HTTP statuses this server answers.
HTTP_STATUS_CODES = {
    200: "OK",
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    413: "RESOURCE_EXHAUSTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_name(http_status: int) -> str:
    return HTTP_STATUS_CODES.get(http_status, "UNKNOWN")


def _le(limit: float) -> str:
    """A bucket bound written as TF Serving writes it (absl's six significant digits)."""
    return f"{limit:.6g}"


class _Latency:
    """One histogram series: counts per bucket (the last one beyond every bound) and their sum."""

    def __init__(self):
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.sum = 0.0

    def add(self, microseconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, microseconds)] += 1
        self.sum += microseconds

    def cumulative(self) -> list[tuple[str, int]]:
        bounds = [*map(_le, LATENCY_BUCKETS), "+Inf"]
        return list(zip(bounds, np.cumsum(self.counts).tolist(), strict=True))


class ServingMetrics:
    """The metrics of one server: recorded by its request handlers, written out at each scrape."""

    def __init__(self, model_name: str, request_log: RequestLog | None, monitoring_results: Path | None):
        self.model_name = model_name
        self._request_log = request_log
        self._monitoring_results = monitoring_results
        self._lock = threading.Lock()
        self._requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self._latency: dict[tuple[str, str, str], _Latency] = {}
        self._predictions: collections.Counter[tuple[str, str]] = collections.Counter()
        self._warned_about: float | None = None  # the results file's mtime last warned about
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    def request(self, model_name: str, status: str, api: str, entrypoint: str, started: float) -> None:
        """Counts one answered request; `started` is its time.perf_counter() on arrival."""
        microseconds = (time.perf_counter() - started) * 1e6
        name = model_name if model_name == self.model_name else ""
        with self._lock:
            self._requests[name, status] += 1
            if status == "OK":
                key = (name, api, entrypoint)
                series = self._latency.get(key) or self._latency.setdefault(key, _Latency())
                series.add(microseconds)

    def predictions(self, version: int, outputs: Mapping) -> None:
        """Counts the predicted classes of one answer, the output besides probabilities and classes."""
        labels = [name for name in outputs if name not in (PROBABILITIES, CLASSES)]
        if len(labels) != 1:
            return
        counted = collections.Counter(np.asarray(outputs[labels[0]]).reshape(-1).tolist())
        with self._lock:
            for label, count in counted.items():  # a few classes: decoded once each
                self._predictions[
                    str(version), label.decode() if isinstance(label, bytes) else str(label)
                ] += count

    def page(self) -> bytes:
        """The metrics in Prometheus's text format (CONTENT_TYPE)."""
        return generate_latest(self._registry)

    def collect(self) -> Iterator[Metric]:
        """prometheus_client's collector protocol: the families as they stand at this scrape."""
        with self._lock:
            requests = dict(self._requests)
            latency = {key: (series.cumulative(), series.sum) for key, series in self._latency.items()}
            predictions = dict(self._predictions)
        count = Metric(REQUEST_COUNT, "The total number of requests.", "unknown")
        for (model_name, status), value in sorted(requests.items()):
            count.add_sample(REQUEST_COUNT, {"model_name": model_name, "status": status}, value)
        yield count
        histogram = HistogramMetricFamily(
            REQUEST_LATENCY,
            "Distribution of wall time (in microseconds) for Tensorflow Serving request.",
            labels=["model_name", "API", "entrypoint"],
        )
        for labels, (buckets, total) in sorted(latency.items()):
            histogram.add_metric(list(labels), buckets, total)
        yield histogram
        classes = CounterMetricFamily(
            "penguins_predictions",
            "Predicted instances, by served version and predicted class.",
            labels=["model_name", "version", "class"],
        )
        for (version, label), value in sorted(predictions.items()):
            classes.add_metric([self.model_name, version, label], value)
        yield classes
        if self._request_log is not None:
            dropped = CounterMetricFamily(
                "penguins_request_log_dropped",
                "Request-log records (instances) dropped instead of written, by reason.",
                labels=["reason"],
            )
            for reason, value in sorted(self._request_log.dropped.items()):
                dropped.add_metric([reason], value)
            yield dropped
        yield from self._monitoring()

    def _monitoring(self) -> list[Metric]:
        """The latest monitoring outcome's families; none when there is no outcome or it is unreadable."""
        path = self._monitoring_results
        try:
            modified = path.stat().st_mtime if path is not None else None
        except OSError:  # no outcome yet
            return []
        if modified is None:
            return []
        try:
            outcome = json.loads(path.read_text())
            return [_gauge_of_file(modified), *_monitoring_families(outcome)]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            if self._warned_about != modified:
                self._warned_about = modified
                LOG.warning(
                    "metrics: the monitoring results in %s are left out, they cannot be read (%s: %s)",
                    path, type(error).__name__, error,
                )  # fmt: skip
            return []


def _gauge_of_file(modified: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "penguins_monitoring_results_time_seconds",
        "When the latest `penguins monitor` outcome was written (unix time).",
        value=modified,
    )


def _monitoring_families(outcome: dict) -> list[Metric]:
    """The gauges of a `penguins monitor --json` outcome; a missing key or wrong type raises."""
    gauges = {
        name: GaugeMetricFamily(f"penguins_{name}", text, labels=labels)
        for name, text, labels in (
            ("live_accuracy", "Accuracy on labeled logged requests, per served version.", ["version"]),
            ("blessed_accuracy", "The accuracy each served version was blessed with.", ["version"]),
            ("live_labeled", "Labeled logged requests per served version (n).", ["version"]),
            ("serving_skew", "Skew of the served inputs against training.", ["feature", "measure"]),
            ("serving_skew_threshold", "The schema's skew threshold.", ["feature", "measure"]),
            ("monitoring_decision", "1 for the latest monitoring decision.", ["decision"]),
        )
    }
    for entry in outcome["versions"]:
        version = str(int(entry["version"]))
        gauges["live_labeled"].add_metric([version], float(entry["n"]))
        for key in ("live_accuracy", "blessed_accuracy"):
            if entry.get(key) is not None:
                gauges[key].add_metric([version], float(entry[key]))
    for measured in outcome["skew"]:
        labels = [str(measured["feature"]), str(measured["measure"])]
        gauges["serving_skew"].add_metric(labels, float(measured["value"]))
        gauges["serving_skew_threshold"].add_metric(labels, float(measured["threshold"]))
    gauges["monitoring_decision"].add_metric([str(outcome["decision"])], 1)
    requests = GaugeMetricFamily(
        "penguins_monitoring_requests",
        "Logged requests in the latest monitoring window.",
        value=float(outcome["requests"]),
    )
    labeled = GaugeMetricFamily(
        "penguins_monitoring_labeled", "Labeled ones among them.", value=float(outcome["labeled"])
    )
    return [*gauges.values(), requests, labeled]
