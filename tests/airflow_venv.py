"""A virtualenv with a real Airflow 3, for the tests of `penguins export airflow`.

Airflow cannot share the project's environment: the only release that resolves beside TFX 1.16's pins
is 2.5.3, whose UI is broken. The exported DAG needs nothing of ours (its tasks call the `penguins`
command), so Airflow gets its own venv, built once per version under ~/.cache/penguins and reused.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

AIRFLOW_VERSION = "3.3.2"
# The newest providers that still support Python 3.10 (the TFX 1.16 stack's Python); Airflow's own
# constraint files are on GitHub, which CI may not reach, so the pins are ours.
REQUIREMENTS = (
    f"apache-airflow=={AIRFLOW_VERSION}",
    "apache-airflow-providers-standard==1.20.0",
    "apache-airflow-providers-cncf-kubernetes==10.23.0",
)
CACHE = Path.home() / ".cache" / "penguins" / f"airflow-{AIRFLOW_VERSION}"
_STAMP = ".built-from"


def _base_python() -> str:
    """The interpreter the project's venv was made from: Airflow 3 supports every Python we do."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")


def airflow_venv() -> Path:
    """The venv's folder, built on first use; a lock keeps parallel test workers to one build."""
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    stamp_text = "\n".join((_base_python(), *REQUIREMENTS))
    with open(CACHE.parent / f"{CACHE.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = CACHE / _STAMP
        if stamp.exists() and stamp.read_text() == stamp_text:
            return CACHE
        shutil.rmtree(CACHE, ignore_errors=True)
        uv = Path(sys.executable).parent / "uv"
        subprocess.run([str(uv), "venv", "--quiet", "--python", _base_python(), str(CACHE)], check=True)
        subprocess.run(
            [str(uv), "pip", "install", "--quiet", "--python", str(CACHE / "bin" / "python"), *REQUIREMENTS],
            check=True,
        )
        stamp.write_text(stamp_text)
    return CACHE
