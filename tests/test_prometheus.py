"""Prometheus itself, from Debian's `prometheus` package: it accepts the compose stack's config, and a
real one on loopback scrapes a real `penguins serve` and answers for what it scraped.

Where the package cannot be had (the Debian 13 chroot of CI has neither binary) these tests skip.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import yaml
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.client import PredictionClient
from tests.helpers import REPO, free_port, serve_published
from tests.test_signatures import PENGUINS as EXAMPLES

PROMETHEUS_CONFIG = REPO / "docker" / "prometheus.yml"
NO_PACKAGE = "Debian's `prometheus` package is not installed (.ci/run installs it where apt-get can)"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"no `{name}` on PATH: {NO_PACKAGE}")
    return path


def test_promtool_accepts_the_compose_prometheus_config():
    result = subprocess.run(
        [_binary("promtool"), "check", "config", str(PROMETHEUS_CONFIG)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@contextlib.contextmanager
def running_prometheus(config: Path, data: Path) -> Iterator[str]:
    """A Prometheus on a free loopback port with `config`, stopped (killed if need be) when the block ends."""
    url = f"http://127.0.0.1:{free_port()}"
    process = subprocess.Popen(
        [_binary("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address={url.removeprefix('http://')}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[1]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "Prometheus did not become ready"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        finally:
            process.kill()
            process.wait()


def _query(prometheus: str, query: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def _scraped(prometheus: str, query: str, expected: float, timeout: float = 60) -> list[dict]:
    """The query's result once its one series has `expected` as value, or as it stands at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = _query(prometheus, query)
        if (len(result) == 1 and float(result[0]["value"][1]) == expected) or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_a_real_prometheus_scrapes_the_request_count_of_penguins_serve(tmp_path, exported_model_dir):
    """The compose config's own scrape job, pointed at a local server and scraping every half second."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "serving"]
    with serve_published(tmp_path / "workspace", exported_model_dir, "--no-request-log") as (server, _):
        job["static_configs"] = [{"targets": [f"127.0.0.1:{server.rest_port}"]}]
        config["global"] = {"scrape_interval": "500ms", "scrape_timeout": "400ms"}
        config["scrape_configs"] = [job]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        with running_prometheus(tmp_path / "prometheus.yml", tmp_path / "data") as prometheus:
            with PredictionClient(server.rest) as client:
                for _ in range(5):
                    client.predict(EXAMPLES[:2])
            assert httpx.post(server.rest + "/v1/models/penguins:predict", json={}).status_code == 400
            with grpc.insecure_channel(server.grpc) as channel, pytest.raises(grpc.RpcError):
                prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(
                    predict_pb2.PredictRequest(model_spec={"name": "penguins"})
                )
            refused = _scraped(
                prometheus,
                ':tensorflow:serving:request_count{model_name="penguins",status="INVALID_ARGUMENT"}',
                2,
            )
            predicted = _scraped(
                prometheus, ':tensorflow:serving:request_latency_count{API="predict",entrypoint="REST"}', 5
            )
    assert [float(series["value"][1]) for series in refused] == [2]
    assert refused[0]["metric"]["job"] == "serving"
    assert refused[0]["metric"]["instance"] == f"127.0.0.1:{server.rest_port}"
    assert [float(series["value"][1]) for series in predicted] == [5]
