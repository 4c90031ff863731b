"""The Beam side of a local cluster, the same for Flink and Spark: the engine's job server, which
takes the pipelines' jobs, and the Python SDK worker pool, which runs their Python code."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.cluster.java import JAVA_17_OPTIONS
from pipeline.cluster.processes import Service
from pipeline.cluster.settings import ClusterSettings
from pipeline.run.endpoints import answers

# How long one readiness probe waits for a starting server.
PROBE_SECONDS = 1.0


def job_server_service(
    settings: ClusterSettings,
    engine: str,
    job_server_classpath: str,
    extra: list[str],
    jvm: tuple[str, ...] | list[str] = (),
    env: dict[str, str] | None = None,
) -> Service:
    endpoint = settings.job_endpoint
    argv = [
        "java", *JAVA_17_OPTIONS, *jvm, "-cp", job_server_classpath, settings.engines[engine].job_server_main,
        f"--job-host={endpoint.host}", f"--job-port={endpoint.port}",
        # Artifacts (the pipelines' staged files) and expansion (cross-language transforms) on free ports.
        "--artifact-port=0", "--expansion-port=0", *extra,
    ]  # fmt: skip
    ready = lambda: answers(str(endpoint), PROBE_SECONDS)  # noqa: E731
    return Service("job-server", argv, ready, endpoint.port, "BEAM_JOB_ENDPOINT", env or {})


def worker_pool_service(settings: ClusterSettings) -> Service:
    """Beam's worker pool in this project's Python, so the workers import the project's modules."""
    pool = settings.worker_pool
    argv = [
        sys.executable,
        "-m",
        "apache_beam.runners.worker.worker_pool_main",
        f"--service_port={pool.port}",
    ]
    # The pool starts each SDK worker as `python -c ...`, found on PATH: this project's Python comes first.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    ready = lambda: answers(str(pool), PROBE_SECONDS)  # noqa: E731
    return Service("worker-pool", argv, ready, pool.port, "BEAM_WORKER_POOL", {"PATH": path})
