"""Pipeline speed against TFX's own penguin example, measured in one run on this machine.

Prints whole-process wall times for: our cold run (fresh workspace), our re-run with nothing
changed (the up-to-date check), our re-run forced through TFX's cache (`--rerun`, twice: the
first re-evaluates the candidate against the newly served baseline, the second is the steady
state), and the reference example through shared/bench/reference_tfx_penguin.py in the same
venv. Then the ratios against the targets: cold <= 0.5 x reference, cached <= 0.25 x.

The cold run and the reference run in pairs, one right after the other (3 pairs unless
`--pairs` says otherwise), so that a change in the machine's load weighs on both sides of each
pair's ratio; the cold ratio printed is the median of the pairs' ratios. The re-runs, once each,
are set against the reference's median.

Usage: python benchmarks/pipeline_speed.py [--reference PATH] [--skip-reference] [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PENGUINS = Path(sys.executable).parent / "penguins"
DEFAULT_REFERENCE = REPO.parent / "shared" / "bench" / "reference_tfx_penguin.py"
COLD_TARGET, CACHED_TARGET = 0.5, 0.25


def timed(command: list[str], tmpdir: Path) -> tuple[float, str]:
    """Runs the command with TMPDIR inside the scratch folder: TFX's reference example leaves about
    200 MB of repackaged TFX there per run."""
    started = time.monotonic()
    environment = {**os.environ, "TMPDIR": str(tmpdir)}
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False, env=environment)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--pairs", type=int, default=3, help="cold runs, each followed by a reference run")
    args = parser.parse_args()
    if args.pairs < 1:
        parser.error(f"--pairs must be at least 1, got {args.pairs}")
    if not args.skip_reference and not args.reference.is_file():
        sys.exit(f"reference script not found at {args.reference}; pass --reference or --skip-reference")

    colds, references, inside_runner = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        tmpdir = Path(scratch) / "tmp"
        tmpdir.mkdir()
        for pair in range(args.pairs):
            run = [str(PENGUINS), "run", "--workspace", str(Path(scratch) / f"workspace-{pair}")]
            cold, cold_output = timed(run, tmpdir)
            colds.append(cold)
            if pair == 0:
                print("our cold run, per component:")
                for line in cold_output.splitlines():
                    if line.startswith("  "):
                        print(f"  {line.strip()}")
                reruns = {
                    "ours_unchanged_rerun_s": timed(run, tmpdir)[0],
                    "ours_tfx_cached_rerun_first_s": timed([*run, "--rerun"], tmpdir)[0],
                    "ours_tfx_cached_rerun_steady_s": timed([*run, "--rerun"], tmpdir)[0],
                }
            if args.skip_reference:
                print(f"pair {pair + 1}: ours cold {cold:.1f} s")
                continue
            elapsed, output = timed(
                [sys.executable, str(args.reference), str(Path(scratch) / f"reference-{pair}")], tmpdir
            )
            references.append(elapsed)
            inside = re.search(r"reference_pipeline_seconds=([\d.]+)", output)
            if inside:
                inside_runner.append(float(inside.group(1)))
            ratio = cold / elapsed
            print(f"pair {pair + 1}: ours cold {cold:.1f} s, reference {elapsed:.1f} s, ratio {ratio:.2f}")

    figures = {"ours_cold_s": statistics.median(colds), **reruns}
    if references:
        figures["reference_whole_process_s"] = statistics.median(references)
    if inside_runner:
        figures["reference_inside_runner_s"] = statistics.median(inside_runner)
    print(f"medians of {args.pairs} pair(s):" if args.pairs > 1 else "figures:")
    for name, value in figures.items():
        print(f"{name}={value:.1f}")
    if not references:
        return
    ratios = {
        "ours_cold_s": statistics.median(cold / ref for cold, ref in zip(colds, references, strict=True))
    }
    ratios.update({name: value / figures["reference_whole_process_s"] for name, value in reruns.items()})
    for name, ratio in ratios.items():
        target = COLD_TARGET if name == "ours_cold_s" else CACHED_TARGET
        verdict = "meets" if ratio <= target else "MISSES"
        print(f"ratio {name}/reference={ratio:.2f} ({verdict} target <= {target})")


if __name__ == "__main__":
    main()
