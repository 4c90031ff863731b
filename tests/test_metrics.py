"""The metrics page of `penguins serve`: a real server on loopback, real REST and gRPC requests, and
the page read back with prometheus_client's own parser."""

from __future__ import annotations

import collections
import json
import time

import grpc
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.client import PredictionClient
from serving.monitoring.metrics import LATENCY_BUCKETS, METRICS_PATH, REQUEST_COUNT, REQUEST_LATENCY
from serving.monitoring.request_log import WRITE_FAILED
from tests.helpers import serve_published
from tests.test_signatures import PENGUINS as EXAMPLES

PREDICT = "/v1/models/penguins:predict"


def scrape(base_url: str) -> dict[tuple[str, frozenset], float]:
    """Every sample on the page, by name and labels, as Prometheus would read it."""
    response = httpx.get(base_url + METRICS_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def named(samples: dict, name: str) -> dict[frozenset, float]:
    return {labels: v for (sample, labels), v in samples.items() if sample == name}


@pytest.fixture(scope="module")
def served(tmp_path_factory, exported_model_dir):
    """Its request log is a file, not a folder: every record is dropped, which the page must count."""
    workspace = tmp_path_factory.mktemp("metrics-workspace")
    not_a_folder = workspace / "not-a-folder"
    not_a_folder.write_text("")
    with serve_published(workspace, exported_model_dir, "--request-log", str(not_a_folder)) as running:
        yield running


def test_requests_are_counted_by_status_as_tf_serving_counts_them(served):
    server, version = served
    before = scrape(server.rest)
    answered = []
    with PredictionClient(server.rest) as client:
        answered += client.predict(EXAMPLES)
    rows = httpx.post(server.rest + PREDICT, json={"instances": EXAMPLES[:2]})
    assert rows.status_code == 200
    refused = httpx.post(server.rest + PREDICT, json={"instances": [{"island": "Dream"}]})
    assert refused.status_code == 400
    assert httpx.get(server.rest + "/v1/models/penguins").status_code == 200
    assert httpx.post(server.rest + "/v1/models/made-up:predict", json={}).status_code == 404
    with PredictionClient(server.grpc, "grpc") as client:
        answered += client.predict(EXAMPLES[:3])
    with grpc.insecure_channel(server.grpc) as channel, pytest.raises(grpc.RpcError) as error:
        prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            predict_pb2.PredictRequest(model_spec={"name": "penguins"})
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = scrape(server.rest)

    counts = {
        status: delta(before, after, REQUEST_COUNT, model_name="penguins", status=status)
        for status in ("OK", "INVALID_ARGUMENT")
    }
    assert counts == {"OK": 4, "INVALID_ARGUMENT": 2}  # 2 REST predict + 1 status + 1 gRPC; 1 + 1
    assert delta(before, after, REQUEST_COUNT, model_name="", status="NOT_FOUND") == 1
    # Latency only for the requests that succeeded, labelled as TF Serving labels them.
    histograms = {
        (api, entrypoint): delta(
            before, after, REQUEST_LATENCY + "_count", model_name="penguins", API=api, entrypoint=entrypoint
        )
        for api, entrypoint in (("predict", "REST"), ("", "REST"), ("Predict", "GRPC"))
    }
    assert histograms == {("predict", "REST"): 2, ("", "REST"): 1, ("Predict", "GRPC"): 1}
    series = dict(model_name="penguins", API="predict", entrypoint="REST")
    buckets = [value(after, REQUEST_LATENCY + "_bucket", **series, le=f"{b:.6g}") for b in LATENCY_BUCKETS]
    assert buckets == sorted(buckets) and len(LATENCY_BUCKETS) == 33
    assert value(after, REQUEST_LATENCY + "_bucket", **series, le="+Inf") == value(
        after, REQUEST_LATENCY + "_count", **series
    )
    assert value(after, REQUEST_LATENCY + "_sum", **series) > 0

    # Predictions per class match the answers, REST rows format included.
    expected = collections.Counter(p.label for p in answered)
    expected.update(p["species"] for p in rows.json()["predictions"])
    series = {"model_name": "penguins", "version": str(version)}
    per_class = {
        label: delta(before, after, "penguins_predictions_total", **series, **{"class": label})
        for label in ("Adelie", "Chinstrap", "Gentoo")
    }
    assert {label: n for label, n in per_class.items() if n} == dict(expected)


def test_dropped_log_records_are_counted_by_reason(served):
    server, _ = served
    with PredictionClient(server.rest) as client:
        client.predict(EXAMPLES)
    deadline = time.monotonic() + 30
    while True:
        samples = scrape(server.rest)
        predicted = sum(named(samples, "penguins_predictions_total").values())
        dropped = value(samples, "penguins_request_log_dropped_total", reason=WRITE_FAILED)
        if dropped == predicted or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert dropped == predicted >= len(EXAMPLES)


OUTCOME = {
    "requests": 120,
    "labeled": 80,
    "served_version": 3,
    "versions": [
        {"version": 3, "live_accuracy": 0.75, "blessed_accuracy": 0.97, "n": 60},
        {"version": 2, "live_accuracy": None, "blessed_accuracy": 0.95, "n": 0},
    ],
    "skew": [
        {
            "feature": "bill_depth_mm",
            "measure": "Jensen-Shannon",
            "value": 0.31,
            "threshold": 0.1,
            "over": True,
        },
        {"feature": "island", "measure": "L-infinity", "value": 0.02, "threshold": 0.1, "over": False},
    ],
    "decision": "quality_dip",
    "reason": "live accuracy 0.75 is below monitoring.min_live_accuracy 0.9",
}


def test_the_latest_monitoring_outcome_shows_up_as_gauges(served):
    server, _ = served
    results = server.workspace / "monitoring" / "latest.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(OUTCOME))
    samples = scrape(server.rest)
    assert named(samples, "penguins_live_accuracy") == {frozenset({("version", "3")}): 0.75}
    assert named(samples, "penguins_blessed_accuracy") == {
        frozenset({("version", "3")}): 0.97, frozenset({("version", "2")}): 0.95
    }  # fmt: skip
    assert value(samples, "penguins_live_labeled", version="3") == 60
    assert value(samples, "penguins_serving_skew", feature="bill_depth_mm", measure="Jensen-Shannon") == 0.31
    assert value(samples, "penguins_serving_skew", feature="island", measure="L-infinity") == 0.02
    assert value(samples, "penguins_serving_skew_threshold", feature="island", measure="L-infinity") == 0.1
    assert named(samples, "penguins_monitoring_decision") == {frozenset({("decision", "quality_dip")}): 1}
    assert value(samples, "penguins_monitoring_requests") == 120
    assert value(samples, "penguins_monitoring_labeled") == 80
    assert abs(value(samples, "penguins_monitoring_results_time_seconds") - results.stat().st_mtime) < 1e-3


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({**OUTCOME, "versions": "3"}), json.dumps({**OUTCOME, "requests": "many"}), ""],
    ids=["not-json", "wrong-shape", "wrong-type", "empty"],
)
def test_an_unreadable_monitoring_outcome_leaves_the_rest_of_the_page_working(served, content):
    server, _ = served
    results = server.workspace / "monitoring" / "latest.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    log = server.workspace / "logs" / "serve.log"
    warning = f"the monitoring results in {results} are left out, they cannot be read"
    warned = log.read_text().count(warning)
    results.write_text(content)
    for _ in range(2):  # warned of once, not at every scrape
        samples = scrape(server.rest)
        assert not [
            name for name, _ in samples if name.startswith("penguins_monitoring") or "accuracy" in name
        ]
        assert named(samples, REQUEST_COUNT)
    deadline = time.monotonic() + 10
    while log.read_text().count(warning) == warned and time.monotonic() < deadline:
        time.sleep(0.2)
    assert log.read_text().count(warning) == warned + 1
    results.unlink()
    assert not [name for name, _ in scrape(server.rest) if name.startswith("penguins_monitoring")]
