"""Late labels at scale, and a monitor run with nothing new: wall time and peak RSS, before and after.

Builds a scratch workspace (no model needed) whose request log, written with the server's own
writer, holds --requests requests of 2 instances, and a label file of --labels rows (by default
a million, 48 MB: a tenth name logged instances, the rest requests the log does not hold, as
labels for another machine's log would). Then times, each command in a fresh process as a user
runs it: `penguins labels add` of that file, `penguins monitor` (which computes), and
`penguins monitor` again with nothing new. Peak RSS is the process's own (wait4).

With --before REV, the same steps run first on the code of that git revision (extracted from
this repository into a scratch folder), on a copy of the same workspace, so one run prints both.

Usage: python benchmarks/labels_and_reuse.py [--requests N] [--labels N] [--before REV]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from pipeline.config.settings import load_settings  # noqa: E402
from serving.monitoring.request_log import RequestLog  # noqa: E402
from tests.helpers import bundled_rows  # noqa: E402

INSTANCES = 2  # per logged request
KNOWN_SHARE = 10  # one label in this many names a logged instance


def _write_log(workspace: Path, requests: int) -> None:
    spec = load_settings().features
    rows = [row for row in bundled_rows() if "NA" not in row.values()][:INSTANCES]
    inputs = {
        name: np.array([row[name] for row in rows], dtype=np.float32 if name in spec.numeric else str)
        for name in spec.inputs
    }
    predicted = {spec.label: np.array([row[spec.label] for row in rows])}
    log = RequestLog(workspace / "monitoring" / "requests", queue_instances=requests * INSTANCES).start()
    for number in range(requests):
        log.record(f"request-{number}", 1, inputs, predicted)
    log.close()
    assert not log.dropped, log.dropped


def _write_labels(path: Path, labels: int, requests: int) -> None:
    label = load_settings().features.label
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "instance", label])
        for number in range(labels):
            known = number % KNOWN_SHARE == 0 and number // KNOWN_SHARE < requests * INSTANCES
            request_id = (
                f"request-{number // KNOWN_SHARE // INSTANCES}" if known else str(uuid.UUID(int=number))
            )
            instance = number // KNOWN_SHARE % INSTANCES if known else 0
            writer.writerow([request_id, instance, classes[number % 3]])


# Forks and waits for the command from a fresh, small interpreter, and prints the command's peak RSS:
# a child forked from this process (which imported TensorFlow to write the log) would count this
# process's memory as its own until it execs.
_PEAK_RSS_OF = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _timed(code: Path, *args: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `penguins ARGS` run from the code in `code`."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_OF, sys.executable, "-m", "pipeline.cli", *args],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"penguins {' '.join(args)} failed: {result.stderr[-2000:]}")
    return seconds, int(result.stdout.split()[-1]) / 1024


def _code_at(revision: str, scratch: Path) -> Path:
    archive = scratch / "code.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "-C", str(REPO), "archive", revision], stdout=handle, check=True)
    code = scratch / f"code-{revision}"
    with tarfile.open(archive) as tar:
        tar.extractall(code)
    return code


def _measure(name: str, code: Path, workspace: Path, source: Path) -> None:
    where = ("--workspace", str(workspace))
    steps = [
        ("labels add", ("labels", "add", "--source", str(source), *where)),
        ("monitor", ("monitor", *where)),
        ("monitor, nothing new", ("monitor", *where)),
    ]
    for step, args in steps:
        seconds, peak = _timed(code, *args)
        print(f"{name:>8}  {step:<22} {seconds:6.1f} s  peak RSS {peak:7,.0f} MiB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="logged requests (of 2 instances)")
    parser.add_argument("--labels", type=int, default=1_000_000, help="rows of the label file")
    parser.add_argument("--before", metavar="REV", help="also measure the code of this git revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        workspace, source = scratch / "workspace", scratch / "labels.csv"
        _write_log(workspace, args.requests)
        _write_labels(source, args.labels, args.requests)
        print(
            f"{args.requests:,} logged requests of {INSTANCES} instances; a label file of {args.labels:,} "
            f"rows ({source.stat().st_size / 2**20:.0f} MiB), a tenth of them naming logged instances"
        )
        runs = [(args.before, _code_at(args.before, scratch))] if args.before else []
        for number, (name, code) in enumerate([*runs, ("now", REPO)]):
            copy = scratch / f"workspace-{number}"
            shutil.copytree(workspace, copy)
            _measure(name, code, copy, source)


if __name__ == "__main__":
    main()
