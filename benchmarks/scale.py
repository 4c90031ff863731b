"""The pipeline at 10k, 100k and 1M synthetic rows, in-process against multi-processing Beam
(and, with --presets flink or spark, against a local Flink or Spark cluster).

For every size it writes synthetic data with `penguins synth`, then runs `penguins run` cold (a
fresh workspace) once per Beam preset, and the notebook way (benchmarks/notebook_way.py) once
per variant: the lean notebook, which the pipeline is measured against, and the project's model
in a notebook.
It prints for every component: wall time, rows per second (data rows / component wall time)
and peak memory, the RSS summed over the whole process tree (Beam's worker processes
included), sampled every 0.2 s. Then the figures the targets are about: peak RSS at the largest
size against the smallest, multi-processing's speed-up, the largest run's wall time, the
crossover size where multi-processing starts to pay, pipeline time / lean notebook time, the
Trainer's `fit` (from the `training.json` it writes in its model run) / the lean notebook's `fit`,
and Transform's time at the largest size.

Large data needs training settings for large data: with the embedded config's batch of 32 and
20 epochs, Keras alone would take tens of minutes at 1M rows, in the pipeline and the notebook
alike. Both therefore run with --batch-size and --epochs (default 256 and 5), so that the
figures compare the machinery and not the optimiser's step count.

A cluster preset brings its cluster up first (`penguins cluster up`, as `make flink-up` does) and
down at the end; its peak memory adds the cluster's processes (JVMs, worker pool and its SDK
workers) to the `penguins` process tree, and its components are printed beside in-process's, with
the overhead, since on one 2-core machine a cluster measures overhead, not speed-up.

Usage: python benchmarks/scale.py [--sizes 10000 100000 1000000] [--presets in-process flink]
       [--scratch DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parent.parent
PENGUINS = Path(sys.executable).parent / "penguins"
DEFAULT_CONFIG = REPO / "pipeline" / "configs" / "penguins.yaml"
PRESETS = ("in-process", "multi-processing")
CLUSTER_PRESETS = ("flink", "spark")
SAMPLE_SECONDS = 0.2
RSS_TARGET, SPEEDUP_TARGET, WALL_TARGET_S, NOTEBOOK_TARGET = 1.5, 1.5, 15 * 60, 3.0
FIT_TARGET, TRANSFORM_TARGET_S = 1.2, 10.0
NOTEBOOKS = ("lean", "project")


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a worker that just exited
            total += member.memory_info().rss
    return total


def measured(command: list[str], also: tuple[int, ...] = ()) -> dict:
    """Runs `command`; returns wall time, peak RSS of its process tree (and of the trees of the pids
    in `also`, a cluster's processes), output lines with arrival times, and the samples."""
    started = time.monotonic()
    child = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process = psutil.Process(child.pid)
    others = [psutil.Process(pid) for pid in also]
    samples: list[tuple[float, int]] = []
    lines: list[tuple[float, str]] = []

    def read_lines():
        for line in child.stdout:
            lines.append((time.monotonic() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    while child.poll() is None:
        try:
            samples.append((time.monotonic() - started, sum(map(tree_rss, [process, *others]))))
        except psutil.Error:
            break
        time.sleep(SAMPLE_SECONDS)
    reader.join()
    wall = time.monotonic() - started
    stderr = child.stderr.read()
    if child.returncode != 0:
        text = "\n".join(line for _, line in lines)
        sys.exit(f"failed ({child.returncode}): {' '.join(command)}\n{text}\n{stderr}")
    return {
        "wall_s": wall,
        "peak_rss": max((rss for _, rss in samples), default=0),
        "lines": lines,
        "samples": samples,
    }


def components(run: dict, rows: int) -> list[dict]:
    """One entry per component line (`  Name  status  12.3s`), with the peak RSS of its window."""
    result = []
    for arrived, line in run["lines"]:
        parts = line.split()
        if len(parts) != 3 or not parts[2].endswith("s") or not line.startswith("  "):
            continue
        seconds = float(parts[2][:-1])
        window = [rss for at, rss in run["samples"] if arrived - seconds - SAMPLE_SECONDS <= at <= arrived]
        result.append(
            {
                "name": parts[0],
                "status": parts[1],
                "seconds": seconds,
                "rows_per_s": rows / seconds if seconds >= 0.5 else None,
                "peak_rss": max(window, default=0),
            }
        )
    return result


def training_record(workspace: Path) -> dict | None:
    """What the Trainer wrote about its own run (components/model/trainer.py: TRAINING_RECORD)."""
    records = sorted(workspace.glob("tfx/Trainer/model_run/*/training.json"))
    return json.loads(records[-1].read_text()) if records else None


def scale_config(scratch: Path, batch_size: int, epochs: int) -> Path:
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(REPO / config["schema"])
    config["training"].update(batch_size=batch_size, epochs=epochs)
    path = scratch / "scale.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def gib(size: int) -> str:
    return f"{size / 2**30:.2f} GiB"


def crossover(sizes: list[int], walls: dict[str, dict[int, float]]) -> str:
    """Where multi-processing's wall time meets in-process's, interpolated on a log scale of rows."""
    gaps = [(n, walls["multi-processing"][n] - walls["in-process"][n]) for n in sizes]
    if gaps[0][1] <= 0:
        return f"multi-processing is already faster at {gaps[0][0]:,} rows"
    for (low, low_gap), (high, high_gap) in itertools.pairwise(gaps):
        if high_gap <= 0:
            fraction = low_gap / (low_gap - high_gap)
            estimate = math.exp(math.log(low) + fraction * (math.log(high) - math.log(low)))
            return f"about {estimate:,.0f} rows (between {low:,} and {high:,}, interpolated)"
    return f"not reached up to {sizes[-1]:,} rows"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS + CLUSTER_PRESETS)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--skip-notebook", action="store_true")
    parser.add_argument("--scratch", type=Path, help="keep data and workspaces here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="scale-") as temporary, contextlib.ExitStack() as clusters:
        cluster_pids = {preset: clusters.enter_context(cluster(preset)) for preset in args.presets
                        if preset in CLUSTER_PRESETS}  # fmt: skip
        scratch = args.scratch or Path(temporary)
        scratch.mkdir(parents=True, exist_ok=True)
        config = scale_config(scratch, args.batch_size, args.epochs)
        print(f"training: batch {args.batch_size}, {args.epochs} epochs; RSS = whole process tree\n")
        figures: dict = {"batch_size": args.batch_size, "epochs": args.epochs, "runs": {}}
        for rows in args.sizes:
            data = scratch / f"data-{rows}"
            synth = measured([str(PENGUINS), "synth", "--rows", str(rows), "--out", str(data)])
            print(f"== {rows:,} rows (synth {synth['wall_s']:.1f}s)")
            for preset in args.presets:
                workspace = scratch / f"workspace-{rows}-{preset}"
                run = measured(
                    [str(PENGUINS), "run", "--config", str(config), "--data", str(data),
                     "--workspace", str(workspace), "--beam-preset", preset],
                    cluster_pids.get(preset, ()),
                )  # fmt: skip
                parts = components(run, rows)
                figures["runs"][f"{rows}/{preset}"] = {
                    "rows": rows, "preset": preset, "wall_s": run["wall_s"], "peak_rss": run["peak_rss"],
                    "components": parts, "training": training_record(workspace),
                }  # fmt: skip
                print(f"  {preset}: {run['wall_s']:.1f}s whole process, peak {gib(run['peak_rss'])}")
                for part in parts:
                    speed = f"{part['rows_per_s']:>10,.0f} rows/s" if part["rows_per_s"] else " " * 17
                    name, seconds, peak = part["name"], part["seconds"], gib(part["peak_rss"])
                    print(f"    {name:<30} {seconds:7.1f}s {speed}  peak {peak}")
            for variant in () if args.skip_notebook else NOTEBOOKS:
                notebook = measured([sys.executable, str(REPO / "benchmarks" / "notebook_way.py"),
                                     str(data / "synthetic.csv"), "--config", str(config),
                                     "--model", variant])  # fmt: skip
                result = json.loads(notebook["lines"][-1][1])
                figures["runs"][f"{rows}/notebook-{variant}"] = {
                    "rows": rows, "wall_s": notebook["wall_s"], "peak_rss": notebook["peak_rss"], **result
                }  # fmt: skip
                print(
                    f"  {result['model']}: {notebook['wall_s']:.1f}s whole process"
                    f" (prepare {result['prepare_s']:.1f}s, fit {result['fit_s']:.1f}s),"
                    f" peak {gib(notebook['peak_rss'])},"
                    f" eval accuracy {result['eval_accuracy']:.3f}"
                )
            print(flush=True)
        report(args, figures)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


@contextlib.contextmanager
def cluster(engine: str):
    """The engine's local cluster, up for the benchmark; yields its processes' pids."""
    up = subprocess.run([str(PENGUINS), "cluster", "up", engine, "--json"], capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(f"{engine} cluster did not start: {up.stderr.strip()}")
    try:
        yield tuple(json.loads(up.stdout)["processes"].values())
    finally:
        subprocess.run([str(PENGUINS), "cluster", "down", engine], capture_output=True, check=False)


def _beside(name: str, here: float, there: float) -> str:
    return f"  {name:<30} {here:7.1f} {there:7.1f}  +{there - here:6.1f} ({there / here:.1f}x)"


def cluster_overhead(args, runs: dict) -> None:
    """Each component on a cluster beside in-process, at every size: the cluster's cost per component."""
    for rows in args.sizes:
        for engine in (preset for preset in args.presets if preset in CLUSTER_PRESETS):
            local = {part["name"]: part["seconds"] for part in runs[f"{rows}/in-process"]["components"]}
            print(f"{engine} against in-process at {rows:,} rows (seconds):")
            for part in runs[f"{rows}/{engine}"]["components"]:
                if part["name"] in local and max(part["seconds"], local[part["name"]]) >= 0.5:
                    print(_beside(part["name"], local[part["name"]], part["seconds"]))
            walls = runs[f"{rows}/in-process"]["wall_s"], runs[f"{rows}/{engine}"]["wall_s"]
            print(_beside("whole process", *walls))


def report(args, figures: dict) -> None:
    runs, sizes = figures["runs"], args.sizes
    smallest, largest = sizes[0], sizes[-1]
    if "in-process" in args.presets:
        cluster_overhead(args, runs)
    for preset in args.presets:
        ratio = runs[f"{largest}/{preset}"]["peak_rss"] / runs[f"{smallest}/{preset}"]["peak_rss"]
        verdict = "meets" if ratio <= RSS_TARGET else "MISSES"
        print(f"peak RSS {largest:,} / {smallest:,} rows, {preset}: {ratio:.2f} ({verdict} <= {RSS_TARGET})")
        wall = runs[f"{largest}/{preset}"]["wall_s"]
        verdict = "meets" if wall <= WALL_TARGET_S else "MISSES"
        print(f"wall time at {largest:,} rows, {preset}: {wall / 60:.1f} min ({verdict} <= 15 min)")
    if set(PRESETS) <= set(args.presets):
        walls = {p: {n: runs[f"{n}/{p}"]["wall_s"] for n in sizes} for p in PRESETS}
        for rows in sizes:
            speedup = walls["in-process"][rows] / walls["multi-processing"][rows]
            verdict = "meets" if speedup >= SPEEDUP_TARGET else "MISSES"
            target = f" ({verdict} target >= {SPEEDUP_TARGET})" if rows == largest else ""
            print(f"multi-processing speed-up at {rows:,} rows: {speedup:.2f}x{target}")
        print(f"crossover: {crossover(sizes, walls)}")
    if "in-process" in args.presets:
        transform = next(
            p["seconds"] for p in runs[f"{largest}/in-process"]["components"] if p["name"] == "Transform"
        )
        verdict = "meets" if transform <= TRANSFORM_TARGET_S else "MISSES"
        target = f"{verdict} target <= {TRANSFORM_TARGET_S:.0f}s"
        print(f"Transform at {largest:,} rows, in-process: {transform:.1f}s ({target})")
    if not args.skip_notebook:
        notebook_report(args, runs)


def notebook_report(args, runs: dict) -> None:
    """The pipeline against the lean notebook: whole process, and the Trainer's fit against its fit."""
    largest = args.sizes[-1]
    for rows in args.sizes:
        lean = runs[f"{rows}/notebook-lean"]
        for preset in args.presets:
            ratio = runs[f"{rows}/{preset}"]["wall_s"] / lean["wall_s"]
            verdict = "meets" if ratio <= NOTEBOOK_TARGET else "MISSES"
            target = f" ({verdict} target <= {NOTEBOOK_TARGET:.0f}x)" if rows == largest else ""
            print(f"pipeline ({preset}) / lean notebook at {rows:,} rows: {ratio:.1f}x{target}")
        training = runs[f"{rows}/{args.presets[0]}"]["training"]
        if training:
            ratio = training["fit_s"] / lean["fit_s"]
            verdict = "meets" if ratio <= FIT_TARGET else "MISSES"
            target = f" ({verdict} target <= {FIT_TARGET})" if rows == largest else ""
            print(f"Trainer's fit / lean notebook's fit at {rows:,} rows: {training['fit_s']:.1f}s / "
                  f"{lean['fit_s']:.1f}s = {ratio:.2f}x{target}")  # fmt: skip


if __name__ == "__main__":
    main()
