"""`penguins serve --upstream --upstream-grpc`: a real local server A, which speaks TF Serving's REST
and gRPC APIs, as the upstream of a real front B on loopback; requests go to B and are checked
against A's own answers, B's request log and B's metrics."""

from __future__ import annotations

import collections
import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import httpx
import pytest
import tensorflow as tf
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from pipeline.run.exit_codes import EXIT_FAILED, EXIT_USAGE
from serving.client import PredictionClient
from serving.monitoring.log_reader import as_dict, read_examples
from serving.monitoring.metrics import REQUEST_COUNT, REQUEST_LATENCY
from serving.request_ids import REQUEST_ID_KEY
from serving.server.front import VERSION_UNKNOWN
from serving.store.versions import publish
from tests.helpers import PENGUINS, REPO, RunningServer, free_port, penguins, serve_published
from tests.test_metrics import delta, scrape, value
from tests.test_predict_command import FLAGS
from tests.test_signatures import PENGUINS as EXAMPLES

PREDICT = "/v1/models/penguins:predict"


@pytest.fixture(scope="module")
def servers(tmp_path_factory, exported_model_dir):
    with serve_published(tmp_path_factory.mktemp("upstream"), exported_model_dir) as (upstream, version):
        front_workspace = tmp_path_factory.mktemp("front")
        front = RunningServer(front_workspace, upstream=upstream.rest, upstream_grpc=upstream.grpc)
        try:
            yield upstream, front, version
        finally:
            front.stop()


def _logged(front: RunningServer, request_ids: set[str], timeout: float = 30) -> dict[str, list[dict]]:
    """The front's logged instances of `request_ids`, by request, once all of them are there."""
    folder = front.workspace / "monitoring" / "requests"
    deadline = time.monotonic() + timeout
    while True:
        grouped: dict[str, list[dict]] = {}
        for record in (as_dict(e) for e in read_examples(folder)) if folder.exists() else []:
            grouped.setdefault(record["request_id"][0].decode(), []).append(record)
        if request_ids <= set(grouped) or time.monotonic() > deadline:
            return grouped
        time.sleep(0.2)


def _predict_request(examples: list[dict], version: int | None = None) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest(model_spec={"name": "penguins"})
    if version is not None:
        request.model_spec.version.value = version
    for name in examples[0]:
        values = [e[name] for e in examples]
        dtype = tf.string if isinstance(values[0], str) else tf.float32
        request.inputs[name].CopyFrom(tf.make_tensor_proto(values, dtype=dtype))
    return request


def _grpc_call(target: str, method: str, request, request_id: str | None = None):
    """The response of `method` at `target` and the request id in its trailing metadata."""
    stub_class = (
        model_service_pb2_grpc.ModelServiceStub
        if method == "GetModelStatus"
        else prediction_service_pb2_grpc.PredictionServiceStub
    )
    metadata = ((REQUEST_ID_KEY, request_id),) if request_id else None
    with grpc.insecure_channel(target) as channel:
        call_method = getattr(stub_class(channel), method)
        response, call = call_method.with_call(request, metadata=metadata, timeout=30)
    return response, dict(call.trailing_metadata()).get(REQUEST_ID_KEY)


def _grpc_error(target: str, request, metadata=None) -> grpc.RpcError:
    with grpc.insecure_channel(target) as channel, pytest.raises(grpc.RpcError) as error:
        prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
            request, metadata=metadata, timeout=30
        )
    return error.value


def _both(upstream: RunningServer, front: RunningServer, method: str, path: str, **request):
    return [httpx.request(method, server.rest + path, **request) for server in (upstream, front)]


def test_the_front_answers_as_its_upstream_does(servers):
    upstream, front, version = servers
    columns = {"inputs": {name: [e[name] for e in EXAMPLES] for name in EXAMPLES[0]}}
    cases = [
        ("POST", PREDICT, {"content": json.dumps(columns, allow_nan=True)}),
        ("POST", PREDICT, {"json": {"instances": EXAMPLES[:2]}}),
        ("POST", f"/v1/models/penguins/versions/{version}:predict", {"json": {"instances": EXAMPLES[:1]}}),
        ("POST", PREDICT, {"json": {"instances": [{"island": "Dream"}]}}),  # refused: 400
        ("POST", "/v1/models/made-up:predict", {"json": {"instances": EXAMPLES[:1]}}),  # 404
        ("GET", "/v1/models/penguins", {}),
        ("GET", "/v1/models/penguins/metadata", {}),
    ]
    for method, path, request in cases:
        direct, fronted = _both(upstream, front, method, path, **request)
        assert (fronted.status_code, fronted.json()) == (direct.status_code, direct.json()), path
        assert fronted.headers["content-type"] == direct.headers["content-type"]
        assert len(fronted.headers["x-request-id"]) == 32
    assert {r.status_code for r in _both(upstream, front, "POST", PREDICT, json={"instances": []})} == {400}


def test_the_front_logs_and_counts_what_it_forwards_with_the_version_that_answered(servers, other_model_dir):
    upstream, front, version = servers
    before = scrape(front.rest)
    with PredictionClient(front.rest) as client:
        first = client.predict(EXAMPLES, request_id="front-1")
    with PredictionClient(upstream.rest) as client:
        assert [p.label for p in client.predict(EXAMPLES)] == [p.label for p in first]
    newer = publish(other_model_dir, upstream.workspace / "serving" / "penguins")
    deadline = time.monotonic() + 60
    while {int(s["version"]) for s in upstream.status() if s["state"] == "AVAILABLE"} != {version, newer}:
        assert time.monotonic() < deadline, upstream.status()
        time.sleep(0.2)
    time.sleep(0.5)  # beyond the front's --poll-seconds: it asks which version answers again
    rows = httpx.post(
        front.rest + PREDICT, json={"instances": EXAMPLES[:2]}, headers={"X-Request-Id": "front-2"}
    )
    from_newer = httpx.post(
        upstream.rest + f"/v1/models/penguins/versions/{newer}:predict", json={"instances": EXAMPLES[:2]}
    )
    assert rows.json() == from_newer.json() and rows.headers["x-request-id"] == "front-2"
    after = scrape(front.rest)

    logged = _logged(front, {"front-1", "front-2"})
    first_log = sorted(logged["front-1"], key=lambda r: r["instance"][0])
    assert [r["model_version"] for r in first_log] == [[version]] * len(EXAMPLES)
    assert [r["species"][0].decode() for r in first_log] == [p.label for p in first]
    assert [r["island"] for r in first_log] == [[e["island"].encode()] for e in EXAMPLES]
    assert first_log[0]["bill_length_mm"] == pytest.approx([EXAMPLES[0]["bill_length_mm"]])
    second_log = sorted(logged["front-2"], key=lambda r: r["instance"][0])
    assert [r["model_version"] for r in second_log] == [[newer]] * 2
    assert [r["species"][0].decode() for r in second_log] == [
        p["species"] for p in rows.json()["predictions"]
    ]

    assert delta(before, after, REQUEST_COUNT, model_name="penguins", status="OK") == 2
    classes = {
        (v, label): delta(
            before,
            after,
            "penguins_predictions_total",
            model_name="penguins",
            version=str(v),
            **{"class": label},
        )
        for v in (version, newer)
        for label in ("Adelie", "Chinstrap", "Gentoo")
    }
    expected = collections.Counter((version, p.label) for p in first)
    expected.update((newer, p["species"]) for p in rows.json()["predictions"])
    assert {key: n for key, n in classes.items() if n} == dict(expected)


def test_grpc_predict_through_the_front_is_the_upstreams_answer_logged_and_counted(servers):
    upstream, front, _ = servers
    before = scrape(front.rest)
    response, request_id = _grpc_call(front.grpc, "Predict", _predict_request(EXAMPLES), "grpc-1")
    answered = response.model_spec.version.value
    direct, _ = _grpc_call(upstream.grpc, "Predict", _predict_request(EXAMPLES, answered))
    assert request_id == "grpc-1" and response == direct
    _, made_up_id = _grpc_call(front.grpc, "Predict", _predict_request(EXAMPLES[:1]))
    assert len(made_up_id) == 32
    # Upstream errors come back as they are: status code and message.
    refused = _predict_request(EXAMPLES[:1])
    refused.model_spec.name = "made-up"
    fronted_error, direct_error = _grpc_error(front.grpc, refused), _grpc_error(upstream.grpc, refused)
    assert fronted_error.code() == direct_error.code() == grpc.StatusCode.NOT_FOUND
    assert fronted_error.details() == direct_error.details()
    assert dict(fronted_error.trailing_metadata())[REQUEST_ID_KEY]
    # Model metadata and status are passed through.
    for method, request in (
        ("GetModelStatus", get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "penguins"})),
        (
            "GetModelMetadata",
            get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec={"name": "penguins"}, metadata_field=["signature_def"]
            ),
        ),
    ):
        assert _grpc_call(front.grpc, method, request)[0] == _grpc_call(upstream.grpc, method, request)[0]
    after = scrape(front.rest)

    logged = _logged(front, {"grpc-1"})["grpc-1"]
    logged = sorted(logged, key=lambda r: r["instance"][0])
    species = [s.decode() for s in tf.make_ndarray(response.outputs["species"]).tolist()]
    assert [r["model_version"] for r in logged] == [[answered]] * len(EXAMPLES)
    assert [r["species"][0].decode() for r in logged] == species
    assert [r["island"] for r in logged] == [[e["island"].encode()] for e in EXAMPLES]
    assert logged[0]["bill_length_mm"] == pytest.approx([EXAMPLES[0]["bill_length_mm"]])

    assert delta(before, after, REQUEST_COUNT, model_name="penguins", status="OK") == 2
    assert delta(before, after, REQUEST_COUNT, model_name="", status="NOT_FOUND") == 1
    grpc_latency = dict(model_name="penguins", API="Predict", entrypoint="GRPC")
    assert delta(before, after, REQUEST_LATENCY + "_count", **grpc_latency) == 2
    classes = {
        label: delta(
            before,
            after,
            "penguins_predictions_total",
            model_name="penguins",
            version=str(answered),
            **{"class": label},
        )
        for label in ("Adelie", "Chinstrap", "Gentoo")
    }
    expected = collections.Counter(species + species[:1])
    assert {label: n for label, n in classes.items() if n} == dict(expected)


def test_the_front_refuses_a_request_id_the_log_cannot_hold_as_the_server_does(servers):
    upstream, front, _ = servers
    too_long = "x" * 300
    for server in (upstream, front):
        answer = httpx.post(
            server.rest + PREDICT, json={"instances": EXAMPLES[:1]}, headers={"X-Request-Id": too_long}
        )
        assert answer.status_code == 400
        assert answer.json()["error"].startswith("X-Request-Id: a request id is 1 to 128 printable ASCII")
    fronted, direct = (
        _grpc_error(server.grpc, _predict_request(EXAMPLES[:1]), metadata=((REQUEST_ID_KEY, "a b"),))
        for server in (front, upstream)
    )
    assert fronted.code() == direct.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fronted.details() == direct.details()


def test_an_unreachable_upstream_is_answered_503_and_unavailable_naming_it(tmp_path):
    nowhere, nowhere_grpc = f"http://127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    front = RunningServer(tmp_path, upstream=nowhere, upstream_grpc=nowhere_grpc)
    try:
        for method, path in (("POST", PREDICT), ("GET", "/v1/models/penguins")):
            answer = httpx.request(method, front.rest + path, json={"instances": EXAMPLES[:1]})
            assert answer.status_code == 503
            assert answer.json()["error"].startswith(
                f"the upstream TF Serving at {nowhere} cannot be reached"
            )
        error = _grpc_error(front.grpc, _predict_request(EXAMPLES[:1]))
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert error.details().startswith(f"the upstream TF Serving at {nowhere_grpc} cannot be reached")
        # `penguins predict` relays what the front said: it answered, its upstream did not.
        predicted = penguins("predict", "--protocol", "grpc", "--url", front.grpc, *FLAGS, timeout=120)
        assert predicted.returncode == EXIT_FAILED
        assert predicted.stderr.splitlines() == [
            f"Prediction failed: the server at {front.grpc} answered UNAVAILABLE: {error.details()}"
        ]
        samples = scrape(front.rest)
        assert delta({}, samples, REQUEST_COUNT, model_name="penguins", status="UNAVAILABLE") == 4
    finally:
        front.stop()
    assert not (tmp_path / "monitoring" / "requests").exists() or not any(
        (tmp_path / "monitoring" / "requests").iterdir()
    )


@pytest.mark.parametrize(
    ("flags", "refusal"),
    [
        (
            ["--upstream", "http://127.0.0.1:1", "--grpc-port", "8500"],
            "Refused: --upstream alone serves REST only; add --upstream-grpc HOST:PORT (the upstream's "
            "gRPC port) to serve gRPC on --grpc-port.",
        ),
        (
            ["--upstream-grpc", "127.0.0.1:1"],
            "Refused: --upstream-grpc needs --upstream URL (the same TF Serving's REST API).",
        ),
        (
            ["--wait-for-upstream"],
            "Refused: --wait-for-upstream needs --upstream URL (the TF Serving to wait for).",
        ),
    ],
    ids=["grpc-port-without-upstream-grpc", "upstream-grpc-without-upstream", "wait-without-upstream"],
)
def test_the_front_refuses_grpc_flags_that_do_not_go_together_in_one_line(tmp_path, flags, refusal):
    result = penguins("serve", "--workspace", str(tmp_path), *flags, timeout=60)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.splitlines() == [refusal]


@pytest.mark.parametrize("upstream", ["ftp://127.0.0.1:8501", "grpc://127.0.0.1:8500"])
def test_an_upstream_that_is_no_rest_address_is_refused_at_start_in_one_line(tmp_path, upstream):
    """Else the front would start, then answer every request 502."""
    result = penguins("serve", "--workspace", str(tmp_path), "--upstream", upstream, timeout=60)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.splitlines() == [
        f"Refused: --upstream: a REST address is http://host:port, such as http://127.0.0.1:8501, "
        f"got '{upstream}'."
    ]


def test_an_upstream_without_a_scheme_is_taken_as_http(servers, tmp_path):
    upstream, _, _ = servers
    front = RunningServer(tmp_path, upstream=f"127.0.0.1:{upstream.rest_port}")
    try:
        fronted, direct = (
            httpx.post(server.rest + PREDICT, json={"instances": EXAMPLES[:2]})
            for server in (front, upstream)
        )
    finally:
        front.stop()
    assert (fronted.status_code, fronted.json()) == (200, direct.json())


@contextlib.contextmanager
def _upstream_naming_no_version(answer: dict) -> Iterator[str]:
    """A REST endpoint that predicts but whose model status names no version (not TF Serving's way;
    the front must still answer, and count what it cannot log)."""
    app = Starlette(
        routes=[
            Route("/v1/models/penguins", lambda _: JSONResponse({"model_version_status": []})),
            Route("/v1/models/penguins:predict", lambda _: JSONResponse(answer), methods=["POST"]),
        ]
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class _PredictsWithoutVersion(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, response: predict_pb2.PredictResponse):
        self._response = response

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        return self._response


@contextlib.contextmanager
def _grpc_upstream_naming_no_version(response: predict_pb2.PredictResponse) -> Iterator[str]:
    """A gRPC PredictionService whose response names no model_spec.version (TF Serving's always does)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictsWithoutVersion(response), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)


def test_an_answer_without_a_known_version_is_passed_on_and_counted_as_dropped(tmp_path):
    answer = {"predictions": [{"species": "Adelie", "probabilities": [0.9, 0.05, 0.05],
                               "classes": ["Adelie", "Chinstrap", "Gentoo"]}] * 2}  # fmt: skip
    grpc_answer = predict_pb2.PredictResponse(model_spec={"name": "penguins"})
    for name in ("species", "probabilities", "classes"):
        values = [row[name] for row in answer["predictions"]]
        grpc_answer.outputs[name].CopyFrom(tf.make_tensor_proto(values))
    with _upstream_naming_no_version(answer) as url, _grpc_upstream_naming_no_version(grpc_answer) as target:
        front = RunningServer(tmp_path, upstream=url, upstream_grpc=target)
        try:
            fronted = httpx.post(front.rest + PREDICT, json={"instances": EXAMPLES[:2]})
            assert (fronted.status_code, fronted.json()) == (200, answer)
            assert _grpc_call(front.grpc, "Predict", _predict_request(EXAMPLES[:2]))[0] == grpc_answer
            deadline = time.monotonic() + 10
            while (samples := scrape(front.rest)) and time.monotonic() < deadline:
                if value(samples, "penguins_request_log_dropped_total", reason=VERSION_UNKNOWN):
                    break
                time.sleep(0.2)
        finally:
            front.stop()
    assert value(samples, "penguins_request_log_dropped_total", reason=VERSION_UNKNOWN) == 2 + 2
    assert not [name for name, _ in samples if name == "penguins_predictions_total"]
    assert not list(read_examples(tmp_path / "monitoring" / "requests"))


def test_a_remembered_version_unloaded_upstream_is_chosen_anew(tmp_path, exported_model_dir, other_model_dir):
    """The front remembers the version for a long --poll-seconds; the upstream then loads two newer
    ones and unloads it (it keeps the newest two): the request is sent again, to the newest."""
    with serve_published(tmp_path / "upstream", exported_model_dir) as (upstream, first):
        front = RunningServer(tmp_path / "front", "--poll-seconds", "600", upstream=upstream.rest)
        try:
            with PredictionClient(front.rest) as client:
                client.predict(EXAMPLES[:1], request_id="before")
            models = upstream.workspace / "serving" / "penguins"
            newest = [publish(other_model_dir, models), publish(exported_model_dir, models)][-1]
            deadline = time.monotonic() + 60
            while first in {int(s["version"]) for s in upstream.status() if s["state"] == "AVAILABLE"}:
                assert time.monotonic() < deadline, upstream.status()
                time.sleep(0.2)
            body = json.dumps({"instances": EXAMPLES}, allow_nan=True)
            after = httpx.post(front.rest + PREDICT, content=body, headers={"X-Request-Id": "after"})
            direct = httpx.post(
                upstream.rest + f"/v1/models/penguins/versions/{newest}:predict", content=body
            )
            assert (after.status_code, after.json()) == (200, direct.json())
            logged = _logged(front, {"before", "after"})
        finally:
            front.stop()
    assert {r["model_version"][0] for r in logged["before"]} == {first}
    assert {r["model_version"][0] for r in logged["after"]} == {newest}


def test_a_front_before_a_local_server_on_one_workspace_logs_each_request_once(tmp_path, exported_model_dir):
    """The setup without Docker (docs/serving.md): a front before `penguins serve`, both on one
    workspace. What the front logs the server does not log again; behind a front that logs nothing,
    the server does."""
    with serve_published(tmp_path, exported_model_dir) as (server, _):
        front = RunningServer(tmp_path, upstream=server.rest, upstream_grpc=server.grpc)
        silent_front = RunningServer(tmp_path / "silent", "--no-request-log", upstream=server.rest)
        try:
            with PredictionClient(front.rest) as client:
                client.predict(EXAMPLES, request_id="rest-via-front")
            _grpc_call(front.grpc, "Predict", _predict_request(EXAMPLES[:2]), "grpc-via-front")
            with PredictionClient(silent_front.rest) as client:
                client.predict(EXAMPLES[:3], request_id="via-silent-front")
            with PredictionClient(server.rest) as client:
                client.predict(EXAMPLES[:1], request_id="direct")
        finally:
            front.stop()
            silent_front.stop()
    # Both servers have stopped, so every record they queued is written.
    logged = collections.Counter(
        as_dict(example)["request_id"][0].decode()
        for example in read_examples(tmp_path / "monitoring" / "requests")
    )
    assert logged == {
        "rest-via-front": len(EXAMPLES),
        "grpc-via-front": 2,
        "via-silent-front": 3,
        "direct": 1,
    }


def _lines_of(process: subprocess.Popen) -> list[str]:
    """The lines `process` writes to stdout, as they come (read by a thread of their own)."""
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    return lines


def _wait_for_line(lines: list[str], text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in lines if text in line]
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no line with {text!r} in {lines}")


def test_a_front_waiting_for_its_upstream_answers_once_the_model_is_served(tmp_path, exported_model_dir):
    """Compose starts the front beside TF Serving, and without healthchecks nothing holds it back."""
    upstream_port, upstream_grpc_port, front_port = free_port(), free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{upstream_port}"
    front = subprocess.Popen(
        [str(PENGUINS), "serve", "--workspace", str(tmp_path / "front"), "--port", str(front_port),
         "--upstream", upstream_url, "--poll-seconds", "0.2", "--wait-for-upstream"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = _lines_of(front)
    waiting = _wait_for_line(lines, "Waiting for the upstream", timeout=120)
    assert waiting.startswith(f"Waiting for the upstream at {upstream_url} to serve model 'penguins': cannot")
    # A request sent while the front waits is answered once the upstream serves the model.
    sent = futures.ThreadPoolExecutor(1).submit(
        httpx.post, f"http://127.0.0.1:{front_port}{PREDICT}", json={"instances": EXAMPLES[:1]}, timeout=120
    )
    publish(exported_model_dir, tmp_path / "upstream" / "serving" / "penguins")
    upstream = subprocess.Popen(
        [str(PENGUINS), "serve", "--workspace", str(tmp_path / "upstream"), "--port", str(upstream_port),
         "--grpc-port", str(upstream_grpc_port)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert sent.result().status_code == 200
        assert _wait_for_line(lines, "serves model 'penguins' (waited", timeout=10)
        assert not [line for line in lines if "Refused" in line or "Traceback" in line]
    finally:
        for process in (front, upstream):
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0


def test_a_front_waiting_for_its_upstream_stops_at_once_on_sigterm(tmp_path):
    front = subprocess.Popen(
        [str(PENGUINS), "serve", "--workspace", str(tmp_path), "--port", str(free_port()),
         "--upstream", f"http://127.0.0.1:{free_port()}", "--wait-for-upstream"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines = _lines_of(front)
    _wait_for_line(lines, "Waiting for the upstream", timeout=120)
    front.send_signal(signal.SIGTERM)
    assert front.wait(timeout=10) == 0
    assert "Server stopped." in "".join(lines)
