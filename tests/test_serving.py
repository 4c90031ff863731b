"""The local server, started as `penguins serve` on free loopback ports, called over real HTTP
and gRPC, and compared with the same SavedModel called in-process."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import threading
import time

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.client import PredictionClient, PredictionError
from serving.store.versions import list_versions, publish
from tests.helpers import PENGUINS, REPO, RunningServer, predict_in_process, serve_published
from tests.test_signatures import PENGUINS as EXAMPLES


@pytest.fixture(scope="module")
def served(tmp_path_factory, exported_model_dir):
    with serve_published(tmp_path_factory.mktemp("serving-workspace"), exported_model_dir) as running:
        yield running


def _tensor_proto(value):
    return tf.make_tensor_proto([value], dtype=tf.string if isinstance(value, str) else tf.float32)


def test_status_and_metadata_follow_tf_serving(served):
    server, version = served
    assert server.status() == [
        {"version": str(version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]
    metadata = httpx.get(f"{server.rest}/v1/models/penguins/metadata").json()
    assert metadata["model_spec"]["version"] == str(version)
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert set(signature["inputs"]) == set(EXAMPLES[0])
    assert signature["inputs"]["island"]["dtype"] == "DT_STRING"
    assert set(signature["outputs"]) == {"species", "probabilities", "classes"}


def test_rest_row_and_columnar_predictions_match_the_saved_model(served, exported_model_dir):
    server, version = served
    species, probabilities = predict_in_process(exported_model_dir, EXAMPLES)
    body = '{"instances": [' + ",".join(
        "{" + ",".join(f'"{k}": ' + (f'"{v}"' if isinstance(v, str) else ("NaN" if math.isnan(v) else str(v)))
                       for k, v in e.items()) + "}" for e in EXAMPLES
    ) + "]}"  # fmt: skip
    rows = httpx.post(f"{server.rest}/v1/models/penguins:predict", content=body).json()["predictions"]
    assert [row["species"] for row in rows] == species
    np.testing.assert_allclose([row["probabilities"] for row in rows], probabilities, rtol=1e-5)

    with PredictionClient(server.rest, "rest") as client:  # columnar format
        predictions = client.predict(EXAMPLES, version=version)
    assert [p.label for p in predictions] == species
    for prediction, expected in zip(predictions, probabilities, strict=True):
        assert max(prediction.probabilities.values()) == pytest.approx(expected.max(), rel=1e-5)


def test_grpc_agrees_with_rest(served):
    server, _ = served
    with PredictionClient(server.rest, "rest") as rest, PredictionClient(server.grpc, "grpc") as remote:
        over_rest, over_grpc = rest.predict(EXAMPLES), remote.predict(EXAMPLES)
    assert [p.label for p in over_rest] == [p.label for p in over_grpc]
    for a, b in zip(over_rest, over_grpc, strict=True):
        assert a.probabilities == pytest.approx(b.probabilities, rel=1e-6)


def test_grpc_status_metadata_and_version_in_response(served):
    server, version = served
    with grpc.insecure_channel(server.grpc) as channel:
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "penguins"})
        )
        assert [(s.version, s.state) for s in status.model_version_status] == [
            (version, get_model_status_pb2.ModelVersionStatus.AVAILABLE)
        ]
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        metadata = stub.GetModelMetadata(
            get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec={"name": "penguins"}, metadata_field=["signature_def"]
            )
        )
        signatures = get_model_metadata_pb2.SignatureDefMap()
        metadata.metadata["signature_def"].Unpack(signatures)
        assert "serving_default" in signatures.signature_def
        request = predict_pb2.PredictRequest(model_spec={"name": "penguins"})
        for name, value in EXAMPLES[0].items():
            request.inputs[name].CopyFrom(
                tf.make_tensor_proto([value], dtype=tf.string if isinstance(value, str) else tf.float32)
            )
        response = stub.Predict(request)
        assert response.model_spec.version.value == version
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(predict_pb2.PredictRequest(model_spec={"name": "walrus"}))
        assert error.value.code() == grpc.StatusCode.NOT_FOUND
        del request.inputs["island"]
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "island" in error.value.details()


PREDICT = "/v1/models/penguins:predict"
WRONG_TYPE = (
    '{"instances": [{"island": 3, "sex": "", "bill_length_mm": 1, "bill_depth_mm": 1,'
    ' "flipper_length_mm": 1, "body_mass_g": 1}]}'
)
BAD_REQUESTS = {
    "not json": (PREDICT, "{instances", 400, "not valid JSON"),
    "no instances": (PREDICT, '{"rows": []}', 400, "exactly one of 'instances' or 'inputs'"),
    "wrong type": (PREDICT, WRONG_TYPE, 400, "input 'island' expects a string"),
    "unknown feature": (
        PREDICT,
        '{"instances": [{"island": "Dream", "beak": 1}]}',
        400,
        "unknown input(s) ['beak']",
    ),
    "missing feature": (PREDICT, '{"inputs": {"island": ["Dream"]}}', 400, "missing input(s)"),
    "unknown model": ("/v1/models/walrus:predict", '{"instances": []}', 404, "walrus"),
    "unknown version": ("/v1/models/penguins/versions/7:predict", '{"instances": []}', 404, "version 7"),
    "unknown label": ("/v1/models/penguins/labels/gold:predict", '{"instances": []}', 404, "label 'gold'"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_tf_serving_style_errors(served, case):
    server, _ = served
    path, body, status, message = BAD_REQUESTS[case]
    response = httpx.post(server.rest + path, content=body)
    assert response.status_code == status
    assert message in response.json()["error"]


def test_client_reports_server_errors(served):
    server, _ = served
    with (
        PredictionClient(server.rest, "rest", model="walrus") as client,
        pytest.raises(PredictionError, match="404"),
    ):
        client.predict(EXAMPLES)


def test_new_version_is_picked_up_with_no_failed_request(served, exported_model_dir):
    """A client loop runs through a push: every request succeeds, and the new version takes over."""
    server, first = served
    failures, answered_by = [], set()
    stop = threading.Event()

    def client_loop():
        with grpc.insecure_channel(server.grpc) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            request = predict_pb2.PredictRequest(model_spec={"name": "penguins"})
            for name, value in EXAMPLES[0].items():
                request.inputs[name].CopyFrom(_tensor_proto(value))
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    answered_by.add(stub.Predict(request, timeout=10).model_spec.version.value)
                except grpc.RpcError as error:
                    failures.append(error.details())

    loop = threading.Thread(target=client_loop)
    loop.start()
    time.sleep(1)
    second = publish(exported_model_dir, server.workspace / "serving" / "penguins")
    deadline = time.monotonic() + 60
    while second not in answered_by and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    loop.join()
    assert failures == []
    assert answered_by == {first, second}
    assert [s["version"] for s in server.status()] == [str(second), str(first)]


def test_broken_version_is_reported_and_skipped(served, exported_model_dir):
    server, _ = served
    model_dir = server.workspace / "serving" / "penguins"
    serving_before = max(list_versions(model_dir))
    broken = model_dir / str(serving_before + 1000)
    shutil.copytree(exported_model_dir, broken)
    (broken / "saved_model.pb").write_bytes(b"not a saved model")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(s["state"] == "END" for s in server.status()):
        time.sleep(0.2)
    states = {s["version"]: (s["state"], s["status"]["error_code"]) for s in server.status()}
    assert states[str(broken.name)] == ("END", "UNKNOWN")
    assert states[str(serving_before)] == ("AVAILABLE", "OK")
    with PredictionClient(server.rest, "rest") as client:
        assert len(client.predict(EXAMPLES)) == len(EXAMPLES)  # still served, by the last good version
    shutil.rmtree(broken)


def _served_probabilities(server):
    with PredictionClient(server.rest, "rest") as client:
        return np.array([list(p.probabilities.values()) for p in client.predict(EXAMPLES)])


def _wait_for_version(server, version):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.status()[0]["version"] != str(version):
        time.sleep(0.2)
    assert server.status()[0]["version"] == str(version)


def test_rollback_changes_what_the_server_serves(served, exported_model_dir, other_model_dir):
    server, _ = served
    model_dir = server.workspace / "serving" / "penguins"
    _, good = predict_in_process(exported_model_dir, EXAMPLES)
    _, other = predict_in_process(other_model_dir, EXAMPLES)
    assert not np.allclose(good, other, atol=1e-3)

    rejected = publish(other_model_dir, model_dir)
    _wait_for_version(server, rejected)
    np.testing.assert_allclose(_served_probabilities(server), other, rtol=1e-5)

    result = subprocess.run(
        [str(PENGUINS), "rollback", "--workspace", str(server.workspace), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    rollback = json.loads(result.stdout)
    restored = max(list_versions(model_dir))
    assert rollback["version"] == restored and rollback["replaced"] == rejected
    assert f"Rolled back: version {restored}" in result.stderr
    _wait_for_version(server, restored)
    np.testing.assert_allclose(_served_probabilities(server), good, rtol=1e-5)
    # The server settles on the labelled versions (loading the older one can take a moment, and
    # unloading follows loading); the rejected version is no longer loaded.
    stable = rollback["labels"]["stable"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and {int(s["version"]) for s in server.status()} != {restored, stable}:
        time.sleep(0.2)
    assert {int(s["version"]) for s in server.status() if s["state"] == "AVAILABLE"} == {restored, stable}
    # Clients pinned to `stable` get the good model too.
    response = httpx.post(
        f"{server.rest}/v1/models/penguins/labels/stable:predict", json={"instances": [EXAMPLES[0]]}
    )
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["predictions"][0]["probabilities"], good[0], rtol=1e-5)


def test_sigterm_stops_the_server_cleanly(tmp_path, exported_model_dir):
    publish(exported_model_dir, tmp_path / "serving" / "penguins")
    server = RunningServer(tmp_path)
    assert server.stop() == 0
    stdout, _ = server.process.communicate()
    assert "Server stopped." in stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.rest}/v1/models/penguins", timeout=2)
