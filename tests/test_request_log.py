"""The request log of `penguins serve`: real servers on loopback, real requests over REST and gRPC,
and the log read back with the reader that later monitoring uses."""

from __future__ import annotations

import math
import random
import signal
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from pipeline.run.exit_codes import EXIT_USAGE
from serving.client import PredictionClient
from serving.monitoring.log_reader import as_dict, log_files, read_examples
from serving.monitoring.request_log import WRITE_FAILED, RequestLog
from tests.helpers import penguins, predict_in_process, serve_published
from tests.test_signatures import PENGUINS as EXAMPLES

PREDICT = "/v1/models/penguins:predict"


def _logged(folder: Path, count: int, timeout: float = 30) -> list[dict]:
    """The logged instances once there are `count` of them (the writer works behind the answers)."""
    deadline = time.monotonic() + timeout
    while True:
        records = [as_dict(example) for example in read_examples(folder)] if folder.exists() else []
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _by_request(records: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for record in records:
        grouped.setdefault(record["request_id"][0].decode(), []).append(record)
    return {rid: sorted(group, key=lambda r: r["instance"][0]) for rid, group in grouped.items()}


def _assert_logged_as_sent(group: list[dict], version: int, examples: list[dict], predictions) -> None:
    assert [r["instance"] for r in group] == [[i] for i in range(len(examples))]
    for record, example, prediction in zip(group, examples, predictions, strict=True):
        assert record["model_version"] == [version]
        for name, value in example.items():
            (logged,) = record[name]
            if isinstance(value, str):
                assert logged == value.encode()
            elif math.isnan(value):
                assert math.isnan(logged)
            else:
                assert logged == pytest.approx(value, rel=1e-6)
        assert record["species"] == [prediction.label.encode()]
        assert [c.decode() for c in record["classes"]] == list(prediction.probabilities)
        np.testing.assert_allclose(
            record["probabilities"], list(prediction.probabilities.values()), rtol=1e-6
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory, exported_model_dir):
    with serve_published(tmp_path_factory.mktemp("logging-workspace"), exported_model_dir) as running:
        yield running


def test_rest_and_grpc_requests_are_all_logged_with_their_ids(served):
    server, version = served
    answers = {}
    for protocol, url in (("rest", server.rest), ("grpc", server.grpc)):
        with PredictionClient(url, protocol) as client:
            given = client.predict(EXAMPLES, request_id=f"{protocol}-given")
            made = client.predict(EXAMPLES[:1])
        assert {p.request_id for p in given} == {f"{protocol}-given"}
        assert len(made[0].request_id) == 32 and made[0].request_id != f"{protocol}-given"
        answers[given[0].request_id] = (EXAMPLES, given)
        answers[made[0].request_id] = (EXAMPLES[:1], made)
    # The row format, with the id sent in another case, and a refused request (never logged)
    response = httpx.post(
        server.rest + PREDICT, json={"instances": [EXAMPLES[0]]}, headers={"X-REQUEST-ID": "rows"}
    )
    assert response.status_code == 200 and response.headers["x-request-id"] == "rows"
    refused = httpx.post(server.rest + PREDICT, json={"instances": [{"island": "Dream"}]})
    assert refused.status_code == 400 and len(refused.headers["x-request-id"]) == 32
    with grpc.insecure_channel(server.grpc) as channel, pytest.raises(grpc.RpcError) as error:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        stub.Predict(
            predict_pb2.PredictRequest(model_spec={"name": "penguins"}), metadata=[("x-request-id", "bad")]
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("x-request-id", "bad") in error.value.trailing_metadata()

    records = _by_request(_logged(server.workspace / "monitoring" / "requests", 2 * len(EXAMPLES) + 3))
    assert set(records) == {*answers, "rows"}
    for request_id, (examples, predictions) in answers.items():
        _assert_logged_as_sent(records[request_id], version, examples, predictions)
    assert records["rows"][0]["species"] == [response.json()["predictions"][0]["species"].encode()]
    times = [r["time_us"][0] / 1e6 for group in records.values() for r in group]
    assert all(abs(t - time.time()) < 300 for t in times)


BAD_REQUEST_IDS = {"300 characters": "x" * 300, "a space": "late label", "non-ASCII": "café"}


def test_a_request_id_the_log_cannot_hold_is_refused_on_both_apis_and_not_logged(served):
    """The rule `penguins predict --request-id` follows (serving/request_ids.py), on the server's side."""
    server, _ = served
    rule = "a request id is 1 to 128 printable ASCII characters without spaces"
    body = {"instances": EXAMPLES[:1]}
    for request_id in BAD_REQUEST_IDS.values():
        answer = httpx.post(server.rest + PREDICT, json=body, headers={"X-Request-Id": request_id.encode()})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"].startswith(f"X-Request-Id: {rule}, got ")
    with grpc.insecure_channel(server.grpc) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        request = predict_pb2.PredictRequest(model_spec={"name": "penguins"})
        for request_id in (BAD_REQUEST_IDS["300 characters"], BAD_REQUEST_IDS["a space"]):
            with pytest.raises(grpc.RpcError) as error:
                stub.Predict(request, metadata=[("x-request-id", request_id)], timeout=30)
            assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert error.value.details().startswith(f"x-request-id metadata: {rule}, got ")
    with PredictionClient(server.rest) as client:
        client.predict(EXAMPLES[:1], request_id="after-bad-ids")
    folder = server.workspace / "monitoring" / "requests"
    deadline = time.monotonic() + 30
    while "after-bad-ids" not in (logged := _by_request(_logged(folder, 1))):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert not set(logged) & {
        request_id.encode().decode("latin-1") for request_id in BAD_REQUEST_IDS.values()
    }
    assert not set(logged) & set(BAD_REQUEST_IDS.values())


def test_a_failing_log_write_never_fails_the_request(tmp_path, exported_model_dir):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    with serve_published(tmp_path / "ws", exported_model_dir, "--request-log", str(not_a_folder)) as running:
        server = running[0]
        with PredictionClient(server.rest) as client:
            predictions = client.predict(EXAMPLES, request_id="lost")
        with PredictionClient(server.grpc, "grpc") as client:
            over_grpc = client.predict(EXAMPLES)
        deadline = time.monotonic() + 30
        log = tmp_path / "ws" / "logs" / "serve.log"
        while "request log: dropped" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
    species, _ = predict_in_process(exported_model_dir, EXAMPLES)
    assert [p.label for p in predictions] == [p.label for p in over_grpc] == species
    assert {p.request_id for p in predictions} == {"lost"}
    assert f"request log: dropped {len(EXAMPLES)} record(s), {WRITE_FAILED}" in log.read_text()
    assert not_a_folder.read_text() == ""


def test_no_request_log_writes_nothing_but_still_returns_ids(tmp_path, exported_model_dir):
    with (
        serve_published(tmp_path, exported_model_dir, "--no-request-log") as (server, _),
        PredictionClient(server.grpc, "grpc") as client,
    ):
        (prediction,) = client.predict(EXAMPLES[:1])
    assert len(prediction.request_id) == 32
    assert not (tmp_path / "monitoring").exists()


def test_a_killed_server_leaves_a_readable_log(tmp_path, exported_model_dir):
    with serve_published(tmp_path, exported_model_dir) as (server, version):
        with PredictionClient(server.rest) as client:
            sent = [client.predict(EXAMPLES, request_id=f"before-kill-{n}") for n in range(3)]
        folder = tmp_path / "monitoring" / "requests"
        assert len(_logged(folder, 3 * len(EXAMPLES))) == 3 * len(EXAMPLES)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=30)
    records = _by_request(_logged(folder, 0))
    for n, predictions in enumerate(sent):
        _assert_logged_as_sent(records[f"before-kill-{n}"], version, EXAMPLES, predictions)


@pytest.mark.parametrize("rate", ["0", "1.5", "nan", "often"])
def test_a_bad_sample_rate_is_refused_in_one_line(tmp_path, rate):
    result = penguins("serve", "--workspace", str(tmp_path), "--log-sample-rate", rate, timeout=60)
    assert result.returncode == EXIT_USAGE
    assert result.stderr.splitlines() == [
        f"Refused: --log-sample-rate must be a number above 0 and at most 1, got {rate!r}"
    ]


def _log_requests(folder: Path, count: int, **options) -> None:
    log = RequestLog(folder, **options).start()
    for n in range(count):
        inputs = {"island": np.array([b"Dream", b""], dtype=object), "bill_depth_mm": np.array([n, np.nan])}
        outputs = {"species": np.array([b"Adelie", b"Gentoo"], dtype=object)}
        log.record(f"r{n}", 7, inputs, outputs)
    log.close()


def test_the_reader_skips_a_truncated_last_record(tmp_path):
    _log_requests(tmp_path, 3)
    (path,) = log_files(tmp_path)
    path.write_bytes(path.read_bytes()[:-5])  # a crash in the middle of the last record
    records = [as_dict(example) for example in read_examples(tmp_path)]
    assert [(r["request_id"], r["instance"]) for r in records] == [
        ([b"r0"], [0]), ([b"r0"], [1]), ([b"r1"], [0]), ([b"r1"], [1]), ([b"r2"], [0])
    ]  # fmt: skip
    assert records[1]["island"] == [b""] and math.isnan(records[1]["bill_depth_mm"][0])


@pytest.mark.parametrize("limit", [{"max_file_bytes": 1}, {"max_file_seconds": 0}], ids=["size", "age"])
def test_files_rotate_and_read_back_in_order(tmp_path, limit):
    _log_requests(tmp_path, 50, **limit)
    files = log_files(tmp_path)
    assert len(files) > 1
    assert all(f.name.startswith("requests-") and f.name.endswith(".tfrecord") for f in files)
    ids = [as_dict(example)["request_id"][0] for example in read_examples(tmp_path)][::2]
    assert ids == [f"r{n}".encode() for n in range(50)]


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path):
    log = RequestLog(tmp_path, queue_instances=3)  # not started: nothing drains the queue
    outputs = {"species": np.array([b"Adelie", b"Gentoo"], dtype=object)}
    for n in range(3):
        log.record(f"r{n}", 7, {}, outputs)
    assert log.dropped == {"queue full": 4}


def test_failed_writes_are_counted_and_warned_of_once_a_minute(tmp_path, caplog):
    (tmp_path / "file").write_text("")
    log = RequestLog(tmp_path / "file").start()
    for n in range(3):
        log.record(f"r{n}", 7, {}, {"species": np.array([b"Adelie"], dtype=object)})
        time.sleep(0.2)  # one batch each
    log.close()
    assert log.dropped == {WRITE_FAILED: 3}
    warnings = [r.getMessage() for r in caplog.records if "request log: dropped" in r.getMessage()]
    assert len(warnings) == 1 and "write failed" in warnings[0]


def test_a_sample_rate_logs_that_share_of_the_requests(tmp_path):
    random.seed(12)
    _log_requests(tmp_path, 400, sample_rate=0.25)
    logged = len(list(read_examples(tmp_path))) // 2  # two instances per request
    assert 60 < logged < 140


def test_a_request_log_and_no_request_log_together_are_refused(tmp_path):
    result = penguins(
        "serve", "--workspace", str(tmp_path), "--request-log", str(tmp_path), "--no-request-log", timeout=60
    )
    assert result.returncode == EXIT_USAGE
    assert len(result.stderr.splitlines()) == 1 and "contradict" in result.stderr
