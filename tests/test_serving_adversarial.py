"""Hostile and malformed requests against a live `penguins serve`.

Every bad REST body gets TF Serving's `{"error": "..."}` JSON with a 4xx status, never a 500 or
plain text, and the keep-alive connection it came on still serves the next good request. Bad gRPC
requests get INVALID_ARGUMENT naming the input. A second server on a port already taken exits 4
in one line, before any banner, and leaves the first one serving; a port that cannot be ours at
all exits 2.
"""

from __future__ import annotations

import http.client
import json
import math
import socket

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from pipeline.run.exit_codes import EXIT_BUSY, EXIT_USAGE
from serving.client import PredictionClient
from serving.server.ports import listening_socket
from tests.helpers import free_port, penguins, predict_in_process, serve_published
from tests.test_signatures import PENGUINS as EXAMPLES

MAX_REQUEST_BYTES = 1_000_000  # over the deep-nesting body below, and cheap to exceed
PREDICT = "/v1/models/penguins:predict"
GOOD = EXAMPLES[1]


def _instance(**literals: str) -> str:
    """A request for one good penguin, with some of its values replaced by raw JSON text."""
    values = {name: literals.get(name, json.dumps(value)) for name, value in GOOD.items()}
    return '{"instances": [{' + ", ".join(f'"{name}": {text}' for name, text in values.items()) + "}]}"


def _instances(*requests: str) -> str:
    """One request holding the one instance of each of `requests`, as made by _instance."""
    prefix, suffix = '{"instances": [', "]}"
    return prefix + ", ".join(r.removeprefix(prefix).removesuffix(suffix) for r in requests) + suffix


def _columns(**columns: list) -> str:
    values = {name: [value] for name, value in GOOD.items()} | columns
    return json.dumps({"inputs": values})


def _chunks(total: int, size: int = 64 * 1024) -> list[bytes]:
    """A body that http.client sends chunked, so the server cannot know its size before reading it."""
    return [b" " * min(size, total - start) for start in range(0, total, size)]


SWAPPED = _instance().replace('"sex"', '"beak"')  # as many inputs as the signature's, one not its own
ONE_TOO_MANY = _instance().replace('{"island"', '{"beak": 1, "island"')

# name: (method, path, body, status, what the error must say)
BAD_REQUESTS = {
    "huge integer literal": ("POST", PREDICT, _instance(bill_length_mm="1" + "0" * 400), 400,
                             "instance 0: input 'bill_length_mm' is infinite"),
    "arrays nested 100,000 deep": ("POST", PREDICT, '{"instances": ' + "[" * 100_000 + "]" * 100_000 + "}",
                                   400, "nested too deeply"),
    "arrays nested 500 deep": ("POST", PREDICT, _instance(bill_length_mm="[" * 500 + "1" + "]" * 500), 400,
                               "instance 0: input 'bill_length_mm' nests lists deeper than"),
    "lone surrogate": ("POST", PREDICT, _instance(island='"\\ud800"'), 400,
                       "instance 0: input 'island' is not valid Unicode"),
    "signature_name a list": ("POST", PREDICT, '{"signature_name": ["x"], ' + _instance()[1:], 400,
                              "'signature_name' must be a string"),
    "b64 of a number": ("POST", PREDICT, _instance(island='{"b64": 5}'), 400, "instance 0: input 'island'"),
    "invalid base64": ("POST", PREDICT, _instance(island='{"b64": "!!!"}'), 400,
                       "instance 0: input 'island' is not valid base64"),
    "Infinity": ("POST", PREDICT, _instance(body_mass_g="Infinity"), 400,
                 "instance 0: input 'body_mass_g' is infinite"),
    "-Infinity": ("POST", PREDICT, _instance(body_mass_g="-Infinity"), 400,
                  "instance 0: input 'body_mass_g' is infinite"),
    "1e300, beyond float32": ("POST", PREDICT, _instance(body_mass_g="1e300"), 400,
                              "instance 0: input 'body_mass_g' is infinite or beyond float32's range"),
    "Infinity in a column": ("POST", PREDICT, _columns(bill_depth_mm=[math.inf]), 400,
                             "example 0: input 'bill_depth_mm' is infinite"),
    "ragged columns": ("POST", PREDICT, _columns(island=["Biscoe", "Dream"]), 400,
                       "same number of examples, got 'bill_depth_mm' 1, 'bill_length_mm' 1"),
    "list for a value": ("POST", PREDICT, _instance(bill_length_mm="[1, [2, 3]]"), 400,
                           "instance 0: input 'bill_length_mm' nests lists deeper than"),
    "a name swapped for another": ("POST", PREDICT, _instances(_instance(), SWAPPED), 400,
                                   "instance 1: unknown input(s) ['beak']"),
    "an input too many": ("POST", PREDICT, _instances(_instance(), ONE_TOO_MANY), 400,
                          "instance 1: unknown input(s) ['beak']"),
    "an instance not an object": ("POST", PREDICT, '{"instances": [' + json.dumps(GOOD) + ", [1]]}", 400,
                                  "instance 1 must be an object of named inputs"),
    "NaN for a string": ("POST", PREDICT, _instance(body_mass_g="NaN", island="NaN"), 400,
                         "instance 0: input 'island' expects a string (DT_STRING), got nan"),
    "NaN for the signature name": ("POST", PREDICT, '{"signature_name": NaN, ' + _instance(sex="NaN")[1:],
                                   400, "'signature_name' must be a string, got nan"),
    "text for a number": ("POST", PREDICT, _instance(body_mass_g='"heavy"'), 400,
                          "input 'body_mass_g' expects a number"),
    "true for a number": ("POST", PREDICT, _instance(body_mass_g="true"), 400,
                          "input 'body_mass_g' expects a number"),
    "object for a string": ("POST", PREDICT, _instance(sex='{"x": 1}'), 400, "input 'sex' expects a string"),
    "instances not a list": ("POST", PREDICT, '{"instances": 5}', 400,
                             "'instances' must be a non-empty list"),
    "inputs not an object": ("POST", PREDICT, '{"inputs": 5}', 400, "'inputs' must be an object"),
    "input not a list": ("POST", PREDICT, json.dumps({"inputs": GOOD}), 400,
                         "must be a list of values, one per example"),
    "body a JSON list": ("POST", PREDICT, "[1, 2]", 400, "must be a JSON object"),
    "body not UTF-8": ("POST", PREDICT, b'{"instances": "\xff"}', 400, "not valid JSON"),
    "body over the limit": ("POST", PREDICT, b" " * (MAX_REQUEST_BYTES + 1), 413,
                            f"of {MAX_REQUEST_BYTES + 1} bytes is over this server's limit"),
    "chunked body over the limit": ("POST", PREDICT, _chunks(2 * MAX_REQUEST_BYTES), 413,
                                    f"over this server's limit of {MAX_REQUEST_BYTES} bytes"),
    "unknown path": ("POST", "/v1/elsewhere", _instance(), 404, "POST /v1/elsewhere"),
    "unknown method": ("PUT", "/v1/models/penguins", _instance(), 405, "PUT /v1/models/penguins"),
}  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory, exported_model_dir):
    workspace = tmp_path_factory.mktemp("adversarial-workspace")
    with serve_published(
        workspace, exported_model_dir, "--max-request-bytes", str(MAX_REQUEST_BYTES)
    ) as running:
        yield running[0]


def _exchange(connection: http.client.HTTPConnection, method: str, path: str, body) -> tuple[int, str, bytes]:
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, response.getheader("Content-Type"), response.read()


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_gets_a_json_4xx_and_the_connection_keeps_serving(served, case):
    method, path, body, status, message = BAD_REQUESTS[case]
    connection = http.client.HTTPConnection("127.0.0.1", served.rest_port, timeout=60)
    try:
        answered, content_type, raw = _exchange(connection, method, path, body)
        assert (answered, content_type) == (status, "application/json"), raw[:300]
        error = json.loads(raw)
        assert list(error) == ["error"] and isinstance(error["error"], str), error
        assert message in error["error"]
        # http.client would reconnect silently; the socket it holds must be the same one after.
        assert connection.sock is not None, "the server asked to close the connection"
        local_port = connection.sock.getsockname()[1]
        answered, _, raw = _exchange(connection, "POST", PREDICT, _instance())
        assert answered == 200, raw[:300]
        assert json.loads(raw)["predictions"][0]["species"]
        assert connection.sock.getsockname()[1] == local_port
    finally:
        connection.close()


# Bodies with NaN for a missing value, read by orjson with NaN as null or by Python's parser where
# that would change more than the NaN (a NaN or a backslash inside a string).
NAN_BODIES = {
    "rows": _instance(body_mass_g="NaN", bill_depth_mm="NaN"),
    "columns": _columns(body_mass_g=[math.nan]),
    "NaN inside a string too": _instance(body_mass_g="NaN", sex='"NaN"'),
    "an escaped string too": _instance(body_mass_g="NaN", island='"Bis\\u0063oe"'),
}


@pytest.mark.parametrize("case", list(NAN_BODIES))
def test_nan_is_a_missing_value_and_answered_as_the_model_answers_it(served, exported_model_dir, case):
    body = NAN_BODIES[case]
    connection = http.client.HTTPConnection("127.0.0.1", served.rest_port, timeout=60)
    try:
        status, _, raw = _exchange(connection, "POST", PREDICT, body)
    finally:
        connection.close()
    assert status == 200, raw[:300]
    parsed = json.loads(body)
    example = (
        parsed["instances"][0] if "instances" in parsed else {k: v[0] for k, v in parsed["inputs"].items()}
    )
    species, probabilities = predict_in_process(exported_model_dir, [example])
    answer = json.loads(raw)
    answered = (
        answer["predictions"][0]
        if "instances" in parsed
        else {name: values[0] for name, values in answer["outputs"].items()}
    )
    assert answered["species"] == species[0]
    assert all(math.isfinite(p) for p in answered["probabilities"])
    np.testing.assert_allclose(answered["probabilities"], probabilities[0], rtol=1e-6)


def _grpc_request(**arrays: np.ndarray) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest(model_spec={"name": "penguins"})
    for name, value in GOOD.items():
        array = arrays.get(name, np.array([value], dtype=object if isinstance(value, str) else np.float32))
        request.inputs[name].CopyFrom(tf.make_tensor_proto(array))
    return request


def _mismatched(
    size: int, values: list[float] | None = None, content: bytes = b""
) -> predict_pb2.PredictRequest:
    """A good request whose 'flipper_length_mm' tensor claims `size` elements but holds other values."""
    request = _grpc_request()
    proto = request.inputs["flipper_length_mm"]
    proto.tensor_shape.dim[0].size = size
    proto.tensor_content = content
    proto.float_val[:] = values or []
    return request


# name: (request, status, what the error must say)
BAD_GRPC_REQUESTS = {
    # TensorFlow fills a shape with fewer values by repeating the last: 3 examples against 1.
    "fewer values than the shape": (_mismatched(3, [200.0, 210.0]), grpc.StatusCode.INVALID_ARGUMENT,
                                    "'flipper_length_mm' 3"),
    "more values than the shape": (_mismatched(1, [200.0, 210.0, 220.0]), grpc.StatusCode.INVALID_ARGUMENT,
                                   "input 'flipper_length_mm' does not fit its tensor_shape [1]: the shape "
                                   "holds 1 value(s), the tensor has 3"),
    "tensor_content of the wrong size": (_mismatched(3, content=b"\0" * 8), grpc.StatusCode.INVALID_ARGUMENT,
                                         "input 'flipper_length_mm' does not fit its tensor_shape [3]"),
    "infinity": (_grpc_request(body_mass_g=np.array([np.inf], np.float32)), grpc.StatusCode.INVALID_ARGUMENT,
                 "example 0: input 'body_mass_g' is infinite"),
    "-infinity, second example": (
        _grpc_request(**{name: np.array([value, -np.inf if name == "bill_depth_mm" else value],
                                        dtype=object if isinstance(value, str) else np.float32)
                         for name, value in GOOD.items()}),
        grpc.StatusCode.INVALID_ARGUMENT, "example 1: input 'bill_depth_mm' is infinite"),
    "ragged inputs": (_grpc_request(island=np.array(["Biscoe", "Dream"], dtype=object)),
                      grpc.StatusCode.INVALID_ARGUMENT, "'island' 2"),
    "message over the limit": (_grpc_request(body_mass_g=np.ones(MAX_REQUEST_BYTES // 4, np.float32)),
                               grpc.StatusCode.RESOURCE_EXHAUSTED, str(MAX_REQUEST_BYTES)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_GRPC_REQUESTS))
def test_bad_grpc_request_is_refused_by_name(served, case):
    request, status, message = BAD_GRPC_REQUESTS[case]
    with grpc.insecure_channel(served.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            stub.Predict(request, timeout=60)
        assert error.value.code() == status
        assert message in error.value.details()
        assert stub.Predict(_grpc_request(), timeout=60).outputs["species"].string_val


def test_grpc_nan_is_a_missing_value_and_accepted(served):
    with grpc.insecure_channel(served.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        response = stub.Predict(_grpc_request(body_mass_g=np.array([np.nan], np.float32)), timeout=60)
    assert np.isfinite(tf.make_ndarray(response.outputs["probabilities"])).all()


@pytest.mark.parametrize("taken", ["gRPC", "REST"])
def test_second_server_on_a_taken_port_exits_busy_before_any_banner(served, tmp_path, taken):
    ports = {"REST": free_port(), "gRPC": free_port()}
    ports[taken] = served.rest_port if taken == "REST" else served.grpc_port
    second = penguins(
        "serve", "--workspace", str(tmp_path), "--port", str(ports["REST"]),
        "--grpc-port", str(ports["gRPC"]), timeout=120,
    )  # fmt: skip
    assert second.returncode == EXIT_BUSY, second.stderr
    assert len(second.stderr.splitlines()) == 1, second.stderr
    assert f"{taken} port {ports[taken]}" in second.stderr
    assert "Serving" not in second.stdout
    for protocol, url in (("rest", served.rest), ("grpc", served.grpc)):
        with PredictionClient(url, protocol) as client:
            assert len(client.predict(EXAMPLES)) == len(EXAMPLES)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "{port}", "--grpc-port", "{port}"], "--port and --grpc-port are both {port}"),
        (["--host", "192.0.2.1", "--port", "{port}"], "cannot listen on 192.0.2.1:{port} for REST"),
    ],
    ids=["same port twice", "address not on this machine"],
)
def test_ports_that_cannot_be_ours_are_a_usage_error(tmp_path, args, message):
    port = str(free_port())
    result = penguins(
        "serve", "--workspace", str(tmp_path), *(a.format(port=port) for a in args), timeout=120
    )
    assert result.returncode == EXIT_USAGE, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert message.format(port=port) in result.stderr
    assert "Serving" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be a port number from 0 (any free port) to 65535, got '70000'"),
        (["--port", "-1"], "--port must be a port number from 0 (any free port) to 65535, got '-1'"),
        (
            ["--grpc-port", "70000"],
            "--grpc-port must be a port number from 0 (any free port) to 65535, got '70000'",
        ),
        (
            ["--upstream", "http://127.0.0.1:70000"],
            "--upstream: the port of 'http://127.0.0.1:70000' must be a port number from 1 to 65535, "
            "got '70000'",
        ),
        (
            ["--upstream", "127.0.0.1:1", "--upstream-grpc", "127.0.0.1:70000"],
            "--upstream-grpc: the port of '127.0.0.1:70000' must be a port number from 1 to 65535, "
            "got '70000'",
        ),
    ],
    ids=[
        "REST port too high",
        "negative REST port",
        "gRPC port too high",
        "upstream port",
        "upstream gRPC port",
    ],
)
def test_a_port_out_of_range_is_refused_in_one_line_and_as_json(tmp_path, args, message):
    """The system would take 70000 modulo 65536 (gRPC on 4464) or raise OverflowError."""
    result = penguins("serve", "--workspace", str(tmp_path), *args, "--json", timeout=60)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert result.stderr.splitlines() == [f"Refused: {message}."]
    assert json.loads(result.stdout) == {
        "command": "serve", "exit_code": EXIT_USAGE, "status": "usage_error", "error": f"Refused: {message}.",
    }  # fmt: skip


def _loopback_taken(port: int) -> set[str]:
    """The loopback addresses on which `port` cannot be bound: a server listens there."""
    taken = set()
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, port))
            except OSError:
                taken.add(address)
    return taken


def test_a_host_name_is_resolved_once_and_both_apis_listen_on_the_same_addresses(
    tmp_path, exported_model_dir
):
    """grpcio would resolve `localhost` on its own, to [::1] as well as (or instead of) 127.0.0.1, where
    REST listens only on the first address; another server could take what one API left free."""
    with serve_published(tmp_path, exported_model_dir, "--host", "localhost") as (server, _):
        rest, grpc_addresses = _loopback_taken(server.rest_port), _loopback_taken(server.grpc_port)
        with PredictionClient(server.grpc, "grpc") as client:
            assert len(client.predict(EXAMPLES)) == len(EXAMPLES)
    assert "127.0.0.1" in rest and rest == grpc_addresses


def test_the_rest_socket_names_tcp_so_asyncio_turns_nagle_off():
    """asyncio sets TCP_NODELAY only on sockets made with IPPROTO_TCP; without it every small answer
    waits about 40 ms for the client's delayed acknowledgement (see benchmarks/serving_speed.py)."""
    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
