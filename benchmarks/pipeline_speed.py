"""Pipeline speed against TFX's own penguin example, measured in one run on this machine.

Prints whole-process wall times for: our cold run (fresh workspace), our re-run with nothing
changed (the up-to-date check), our re-run forced through TFX's cache (`--rerun`, twice: the
first re-evaluates the candidate against the newly served baseline, the second is the steady
state), and the reference example through shared/bench/reference_tfx_penguin.py in the same
venv. Then the ratios against the targets: cold <= 0.5 x reference, cached <= 0.25 x.

Usage: python benchmarks/pipeline_speed.py [--reference PATH] [--skip-reference]
"""

from __future__ import annotations

import argparse
import os
import re
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
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        workspace, tmpdir = Path(scratch) / "workspace", Path(scratch) / "tmp"
        tmpdir.mkdir()
        run = [str(PENGUINS), "run", "--workspace", str(workspace)]
        cold, cold_output = timed(run, tmpdir)
        print("our cold run, per component:")
        for line in cold_output.splitlines():
            if line.startswith("  "):
                print(f"  {line.strip()}")
        figures = {"ours_cold_s": cold}
        figures["ours_unchanged_rerun_s"], _ = timed(run, tmpdir)
        figures["ours_tfx_cached_rerun_first_s"], _ = timed([*run, "--rerun"], tmpdir)
        figures["ours_tfx_cached_rerun_steady_s"], _ = timed([*run, "--rerun"], tmpdir)

        if not args.skip_reference:
            if not args.reference.is_file():
                sys.exit(
                    f"reference script not found at {args.reference}; pass --reference or --skip-reference"
                )
            elapsed, output = timed(
                [sys.executable, str(args.reference), str(Path(scratch) / "reference")], tmpdir
            )
            figures["reference_whole_process_s"] = elapsed
            inside = re.search(r"reference_pipeline_seconds=([\d.]+)", output)
            if inside:
                figures["reference_inside_runner_s"] = float(inside.group(1))

    for name, value in figures.items():
        print(f"{name}={value:.1f}")
    reference = figures.get("reference_whole_process_s")
    if reference:
        for name, target in (
            ("ours_cold_s", COLD_TARGET),
            ("ours_unchanged_rerun_s", CACHED_TARGET),
            ("ours_tfx_cached_rerun_first_s", CACHED_TARGET),
            ("ours_tfx_cached_rerun_steady_s", CACHED_TARGET),
        ):
            ratio = figures[name] / reference
            verdict = "meets" if ratio <= target else "MISSES"
            print(f"ratio {name}/reference={ratio:.2f} ({verdict} target <= {target})")


if __name__ == "__main__":
    main()
