"""Virtualenvs of their own for tools that cannot share the project's environment, for the tests.

A real Airflow 3, for `penguins export airflow`: the only release that resolves beside TFX 1.16's
pins is 2.5.3, whose UI is broken. The kfp SDK, for `penguins export kfp`: kfp 2 needs protobuf 4
or newer, and TFX 1.16 pins protobuf 3. Neither needs anything of ours (the DAG's tasks call the
`penguins` command; the SDK reads the spec file), so each gets its own venv, built once per version
under ~/.cache/penguins with the project's uv and reused.
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
AIRFLOW_REQUIREMENTS = (
    f"apache-airflow=={AIRFLOW_VERSION}",
    "apache-airflow-providers-standard==1.20.0",
    "apache-airflow-providers-cncf-kubernetes==10.23.0",
)
# The SDK release of the pipeline spec the TFX 1.21 stack writes (pyproject.toml's kfp-pipeline-spec).
KFP_VERSION = "2.16.0"
CACHE = Path.home() / ".cache" / "penguins"
_STAMP = ".built-from"


def _base_python() -> str:
    """The interpreter the project's venv was made from: both tools support every Python we do."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}")


def side_venv(name: str, requirements: tuple[str, ...]) -> Path:
    """The venv `name` holding `requirements`, built on first use; a lock keeps parallel test workers
    to one build."""
    folder = CACHE / name
    CACHE.mkdir(parents=True, exist_ok=True)
    stamp_text = "\n".join((_base_python(), *requirements))
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = folder / _STAMP
        if stamp.exists() and stamp.read_text() == stamp_text:
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        uv = Path(sys.executable).parent / "uv"
        subprocess.run([str(uv), "venv", "--quiet", "--python", _base_python(), str(folder)], check=True)
        subprocess.run(
            [str(uv), "pip", "install", "--quiet", "--python", str(folder / "bin" / "python"), *requirements],
            check=True,
        )
        stamp.write_text(stamp_text)
    return folder


def airflow_venv() -> Path:
    return side_venv(f"airflow-{AIRFLOW_VERSION}", AIRFLOW_REQUIREMENTS)


def kfp_venv() -> Path:
    return side_venv(f"kfp-{KFP_VERSION}", (f"kfp=={KFP_VERSION}",))
