"""The metadata store's cost: a whole `penguins run` with SQLite beside the same run with MySQL.

Each run is a whole process on a fresh workspace over the bundled data, first with the workspace's
SQLite file, then with a database on a MariaDB server from Debian's packages, started here on
loopback (tests/mariadb.py). Then a cached re-run (`--rerun`) of each, where metadata reads and
writes are most of the work. Prints the wall times side by side, and the MySQL/SQLite ratio.

Usage: python benchmarks/metadata_store.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.mariadb import MariaDB, mariadb_available  # noqa: E402

PENGUINS = Path(sys.executable).parent / "penguins"


def timed_run(workspace: Path, metadata: str | None, *extra: str) -> float:
    environment = {key: value for key, value in os.environ.items() if key != "PENGUINS_METADATA"}
    if metadata:
        environment["PENGUINS_METADATA"] = metadata
    started = time.monotonic()
    command = [str(PENGUINS), "run", "--workspace", str(workspace), *extra]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, check=False)
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each kind; the median is printed")
    args = parser.parse_args()
    if not mariadb_available():
        sys.exit("mariadbd is not installed: apt-get install mariadb-server")
    with tempfile.TemporaryDirectory() as scratch:
        server = MariaDB(Path(scratch) / "mariadb")
        try:
            times: dict[tuple[str, str], list[float]] = {}
            for repeat in range(args.repeats):
                url = server.database(f"bench_{repeat}")
                for store, metadata in (("SQLite", None), ("MySQL", url)):
                    workspace = Path(scratch) / f"{store}-{repeat}"
                    times.setdefault((store, "cold"), []).append(timed_run(workspace, metadata))
                    times.setdefault((store, "cached"), []).append(timed_run(workspace, metadata, "--rerun"))
        finally:
            server.stop()
    print(f"Whole `penguins run` on the bundled data, median of {args.repeats} (s):")
    print(f"  {'run':<8} {'SQLite':>8} {'MySQL':>8} {'MySQL/SQLite':>13}")
    for kind in ("cold", "cached"):
        sqlite, mysql = (statistics.median(times[(store, kind)]) for store in ("SQLite", "MySQL"))
        print(f"  {kind:<8} {sqlite:8.1f} {mysql:8.1f} {mysql / sqlite:12.2f}x")


if __name__ == "__main__":
    main()
