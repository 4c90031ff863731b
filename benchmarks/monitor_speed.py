"""`penguins monitor` over 1,000,000 logged instances (1,000 requests of 1,000). Target: under 2 minutes.

Copies a workspace with a pushed model (running the pipeline into a scratch workspace first if
none is given), writes the request log with the server's own writer (serving/monitoring/
request_log.py), requests of 1,000 instances (the bundled birds in turn; the writer's queue is
made big enough to hold them all, as this loop outruns any disk), labels a tenth of the instances
with `penguins labels add`, and times `penguins monitor --json` as a user runs it, then once more
with nothing new (pipeline/monitoring/reuse.py).

Usage: python benchmarks/monitor_speed.py [--workspace DIR] [--requests N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from pipeline.config.settings import load_settings  # noqa: E402
from serving.monitoring.request_log import RequestLog  # noqa: E402
from serving.store.model_config import served_version  # noqa: E402
from tests.helpers import bundled_rows  # noqa: E402

PENGUINS = Path(sys.executable).parent / "penguins"
TARGET_SECONDS = 120
LABELED_SHARE = 10  # one instance in this many gets a label
BATCH = 1_000  # instances per logged request


def _penguins(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PENGUINS), *args], capture_output=True, text=True, check=True)


def _trained(given: Path | None, scratch: Path) -> Path:
    workspace = scratch / "workspace"
    if given is None:
        print("No --workspace given: running the pipeline into a scratch workspace first.")
        _penguins("run", "--workspace", str(workspace))
    else:
        shutil.copytree(given, workspace, ignore=shutil.ignore_patterns("monitoring", "reports"))
    return workspace


def _write_log(workspace: Path, requests: int) -> tuple[float, list[tuple[str, int, str]]]:
    settings = load_settings()
    spec = settings.features
    version = served_version(workspace / "serving", settings.model_name)
    rows = [row for row in bundled_rows() if "NA" not in row.values()]
    batch = [rows[i % len(rows)] for i in range(BATCH)]
    inputs = {
        name: np.array([float(row[name]) for row in batch], dtype=np.float32)
        if name in spec.numeric
        else np.array([row[name] for row in batch])
        for name in spec.inputs
    }
    predicted = {spec.label: np.array([row[spec.label] for row in batch])}
    labels = [
        (f"bench-{number}", instance, batch[instance][spec.label])
        for number in range(requests // BATCH)
        for instance in range(0, BATCH, LABELED_SHARE)
    ]
    log = RequestLog(workspace / "monitoring" / "requests", queue_instances=requests).start()
    started = time.perf_counter()
    for number in range(requests // BATCH):
        log.record(f"bench-{number}", version, inputs, predicted)
    log.close()
    seconds = time.perf_counter() - started
    assert not log.dropped, log.dropped
    return seconds, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace", type=Path, help="a workspace with a pushed model (copied, not changed)"
    )
    parser.add_argument("--requests", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        workspace = _trained(args.workspace, scratch)
        write_seconds, labels = _write_log(workspace, args.requests)
        size = sum(p.stat().st_size for p in (workspace / "monitoring" / "requests").iterdir())
        print(f"wrote {args.requests:,} logged instances in {write_seconds:.1f}s ({size / 2**20:.0f} MiB)")
        source = scratch / "labels.csv"
        with source.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["request_id", "instance", load_settings().features.label])
            writer.writerows(labels)
        started = time.perf_counter()
        _penguins("labels", "add", "--source", str(source), "--workspace", str(workspace))
        print(f"labels add: {len(labels):,} labels in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        outcome = json.loads(_penguins("monitor", "--workspace", str(workspace), "--json").stdout)
        seconds = time.perf_counter() - started
        verdict = "met" if seconds < TARGET_SECONDS else "MISSED"
        print(
            f"monitor: {outcome['requests']:,} requests of {outcome['instances']:,} instances, "
            f"{outcome['labeled']:,} labeled, decision "
            f"{outcome['decision']}, in {seconds:.1f}s (target < {TARGET_SECONDS}s: {verdict})"
        )
        started = time.perf_counter()
        _penguins("monitor", "--workspace", str(workspace), "--json")
        print(f"monitor again, nothing new (answers from the last run): {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
