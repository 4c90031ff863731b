"""Serving latency and throughput on loopback, against the in-process SavedModel call (the floor).

Starts `penguins serve` on free ports over a workspace with a pushed model (running the pipeline
into a scratch workspace first if there is none) and prints, all from one run:
REST and gRPC latency p50/p99 for 1 instance and for a batch of 1,000; throughput with 8
concurrent clients; the same calls in-process, timed in turns with the servers' calls so that a
change in the machine's load weighs on both sides of each ratio. Targets: for one instance the
server adds at most 1.5 ms at p50 with httpx, 0.7 ms with the lean client and 2 ms with gRPC,
and a batch of 1,000 takes at most 3x the in-process time.

REST is measured with two clients: httpx, as a Python application would call it, and a lean one
(the standard library's http.client on one keep-alive connection), whose own cost is small enough
that its figures are mostly the server's.

The single-instance latency and the throughput are measured again with the request log on (into
a scratch folder, never the workspace's): logging adds at most 0.2 ms at p50 for one instance
and costs at most 10% of the throughput with 8 clients. The cost of counting a request in the
metrics is timed in-process.

Usage: python benchmarks/serving_speed.py [--workspace DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import grpc  # noqa: E402
import httpx  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # noqa: E402

from pipeline.config.settings import load_settings  # noqa: E402
from serving.monitoring.metrics import REST, ServingMetrics  # noqa: E402
from serving.store.versions import latest_version  # noqa: E402
from tests.helpers import bundled_rows, free_port  # noqa: E402

PENGUINS = Path(sys.executable).parent / "penguins"
SINGLE_ROUNDS, BATCH_ROUNDS, BATCH = 300, 100, 1000
CLIENTS, THROUGHPUT_SECONDS, THROUGHPUT_TURNS = 8, 6.0, 3
ROUND_ORDER_SEED = 26
PROTOCOLS = {"rest": "REST (httpx)", "rest_lean": "REST (http.client keep-alive)", "grpc": "gRPC"}
# What one instance may add over the in-process call, in ms, per client (issue 26).
ADDED_TARGET_MS = {"rest": 1.5, "rest_lean": 0.7, "grpc": 2.0}


def _instances(count: int) -> list[dict]:
    features = load_settings().features
    rows = bundled_rows()
    out = []
    for index in range(count):
        row = rows[index % len(rows)]
        missing = features.missing_values
        instance = {n: (math.nan if row[n] in missing else float(row[n])) for n in features.numeric}
        instance.update({n: ("" if row[n] in missing else row[n]) for n in features.categorical})
        out.append(instance)
    return out


def _interleaved_timings(calls: dict, rounds: int) -> dict[str, list[float]]:
    """Milliseconds per call of each of `calls`, taken in turns, so that a change in the machine's
    load (another process, a CPU's clock) weighs on all of them alike.

    Each round takes the calls in a new random order: in a fixed order, a call's time depended on
    which call came before it (whose server was still busy, or whose client woke late), and the
    figures of the same code swung by 0.2-0.5 ms between runs."""
    for call in calls.values():
        call()  # warm up
    samples = {name: [] for name in calls}
    order = random.Random(ROUND_ORDER_SEED)
    for _ in range(rounds):
        for name, call in order.sample(list(calls.items()), len(calls)):
            started = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return samples


def _p(samples: list[float], q: float) -> float:
    return (
        statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]
        if len(samples) > 1
        else samples[0]
    )


def _interleaved_throughput(makers: dict) -> dict[str, float]:
    """Requests per second of each of `makers` (one call per client), in turns of a few seconds."""
    total = dict.fromkeys(makers, 0.0)
    for _ in range(THROUGHPUT_TURNS):
        for name, make_call in makers.items():
            total[name] += _throughput(make_call, THROUGHPUT_SECONDS / THROUGHPUT_TURNS)
    return {name: rps / THROUGHPUT_TURNS for name, rps in total.items()}


def _throughput(make_call, seconds: float) -> float:
    done, stop = [0] * CLIENTS, threading.Event()

    def worker(index):
        call = make_call()
        while not stop.is_set():
            call()
            done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


@contextlib.contextmanager
def _server(workspace: Path, *log_args: str):
    """`penguins serve` on free ports until the block ends: its REST model URL and gRPC address."""
    rest_port, grpc_port = free_port(), free_port()
    server = subprocess.Popen(
        [str(PENGUINS), "serve", "--workspace", str(workspace), "--port", str(rest_port), "--grpc-port",
         str(grpc_port), *log_args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        rest_url = f"http://127.0.0.1:{rest_port}/v1/models/penguins"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(rest_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    sys.exit("server did not start")
                time.sleep(0.3)
        yield rest_url, f"127.0.0.1:{grpc_port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def _metrics_cost_us(rounds: int = 100_000) -> float:
    """Microseconds to count one answered request in the metrics, in-process."""
    metrics = ServingMetrics("penguins", None, None)
    started = time.perf_counter()
    for _ in range(rounds):
        metrics.request("penguins", "OK", "predict", REST, started)
    return (time.perf_counter() - started) / rounds * 1e6


def _ensure_model(workspace: Path) -> Path:
    model_dir = workspace / "serving" / "penguins"
    if latest_version(model_dir) is None:
        print(f"no pushed model in {workspace}; running the pipeline first", flush=True)
        subprocess.run([str(PENGUINS), "run", "--workspace", str(workspace)], check=True, cwd=REPO)
    return model_dir / str(latest_version(model_dir))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace", type=Path, help="workspace with a pushed model (default: a scratch one)"
    )
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="serving-bench-")
    workspace = (args.workspace or Path(scratch.name)).resolve()
    model_path = _ensure_model(workspace)

    one, batch = _instances(1), _instances(BATCH)
    loaded = tf.saved_model.load(str(model_path))
    signature = loaded.signatures["serving_default"]

    def tensors(instances):
        return {n: tf.constant([i[n] for i in instances]) for n in instances[0]}

    figures = {}

    def rest_call(rest_url, instances):
        client = httpx.Client()
        body = json.dumps({"instances": instances}).encode()
        return lambda: client.post(rest_url + ":predict", content=body).raise_for_status()

    def lean_rest_call(rest_url, instances):
        url = urllib.parse.urlsplit(rest_url + ":predict")
        connection = http.client.HTTPConnection(url.hostname, url.port)
        body = json.dumps({"instances": instances}).encode()
        headers = {"Content-Type": "application/json"}

        def call():
            connection.request("POST", url.path, body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"REST answered {response.status}")

        return call

    def grpc_call(address, instances):
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))
        request = predict_pb2.PredictRequest(model_spec={"name": "penguins"})
        for name, value in tensors(instances).items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        return lambda: stub.Predict(request, timeout=30)

    try:
        # Benchmark traffic stays out of the workspace's request log, which monitoring reads as real
        # traffic. Two servers, one logging into a scratch folder, are measured in turns.
        with (
            tempfile.TemporaryDirectory(prefix="serving-bench-log-") as log_dir,
            _server(workspace, "--no-request-log") as plain,
            _server(workspace, "--request-log", log_dir) as logged,
        ):
            clients = (("rest", 0, rest_call), ("rest_lean", 0, lean_rest_call), ("grpc", 1, grpc_call))
            # The in-process floor is timed in turns with the servers' calls it is compared with.
            for label, instances, rounds in (("1", one, SINGLE_ROUNDS), ("1000", batch, BATCH_ROUNDS)):
                calls = {f"inprocess_{label}": lambda i=instances: signature(**tensors(i))}
                calls |= {f"{protocol}_{label}": make(plain[at], instances) for protocol, at, make in clients}
                figures |= _interleaved_timings(calls, rounds)
            for protocol, index, make in clients:
                unlogged, logging = plain[index], logged[index]
                single = _interleaved_timings(
                    {"_paired": make(unlogged, one), "_logged": make(logging, one)}, SINGLE_ROUNDS
                )
                rates = _interleaved_throughput(
                    {"": lambda m=make, u=unlogged: m(u, one), "_logged": lambda m=make, u=logging: m(u, one)}
                )
                figures[f"{protocol}_1_paired"], figures[f"{protocol}_1_logged"] = single.values()
                for suffix in ("", "_logged"):
                    figures[f"{protocol}_throughput{suffix}_rps"] = rates[suffix]
    finally:
        scratch.cleanup()

    print(f"model: {model_path}")
    for name, samples in figures.items():
        if isinstance(samples, float):
            print(f"{name}={samples:.0f} requests/s with {CLIENTS} concurrent clients")
        else:
            print(f"{name}_ms p50={_p(samples, 50):.2f} p99={_p(samples, 99):.2f}")
    floor_1, floor_batch = _p(figures["inprocess_1"], 50), _p(figures["inprocess_1000"], 50)
    for protocol, client in PROTOCOLS.items():
        single, batched = _p(figures[f"{protocol}_1"], 50), _p(figures[f"{protocol}_1000"], 50)
        added, ratio = single - floor_1, batched / floor_batch
        target = ADDED_TARGET_MS[protocol]
        added_verdict = "meets" if added <= target else "MISSES"
        ratio_verdict = "meets" if ratio <= 3 else "MISSES"
        print(
            f"{client}: 1 instance {single:.2f} ms at p50, in-process {floor_1:.2f} ms: "
            f"adds {added:.2f} ms ({added_verdict} <= {target} ms)"
        )
        print(
            f"{client}: a batch of {BATCH} {batched:.2f} ms at p50, in-process {floor_batch:.2f} ms: "
            f"{ratio:.2f}x ({ratio_verdict} <= 3x)"
        )
    for protocol, client in PROTOCOLS.items():
        added = _p(figures[f"{protocol}_1_logged"], 50) - _p(figures[f"{protocol}_1_paired"], 50)
        kept = figures[f"{protocol}_throughput_logged_rps"] / figures[f"{protocol}_throughput_rps"]
        added_verdict = "meets" if added <= 0.2 else "MISSES"
        kept_verdict = "meets" if kept >= 0.9 else "MISSES"
        print(f"{client}: request logging adds {added:.2f} ms at p50, 1 instance ({added_verdict} <= 0.2 ms)")
        print(f"{client}: with request logging, {kept:.1%} of the throughput ({kept_verdict} >= 90%)")
    print(f"metrics: counting a request takes {_metrics_cost_us():.1f} µs")


if __name__ == "__main__":
    main()
