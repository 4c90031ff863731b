"""`penguins cluster up|down|status`: a whole local cluster, its processes in order.

Up starts the engine's processes in order (Flink: JobManager, TaskManager, Beam job server,
worker pool), each once the one before is ready, and a failure stops what it had started, so a
half-started cluster is never left running. Down stops them in reverse order.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.cluster import flink, spark
from pipeline.cluster.processes import ClusterError, running_pid, start, stop
from pipeline.cluster.settings import ENGINES, ClusterSettings, load_cluster_settings

# Each engine's module: its processes' names in start order, its services and its web UI.
ENGINE_MODULES = {"flink": flink, "spark": spark}
# A cold JVM on a loaded 2-core machine takes tens of seconds to open its ports.
START_TIMEOUT_SECONDS = 180.0


def _running(settings: ClusterSettings, engine: str) -> dict[str, int | None]:
    """Each of the engine's processes, and its pid when it runs."""
    return {
        name: running_pid(settings.state_dir(engine), name) for name in ENGINE_MODULES[engine].PROCESS_NAMES
    }


def up(engine: str, announce: Callable[[str], None] = print) -> dict:
    settings = load_cluster_settings()
    for other in ENGINES:
        if other != engine and any(_running(settings, other).values()):
            raise ClusterError(
                f"the {other} cluster is up and holds the job server's ports: `make {other}-down` first"
            )
    state_dir = settings.state_dir(engine)
    state_dir.mkdir(parents=True, exist_ok=True)
    processes = {}
    for service in ENGINE_MODULES[engine].services(settings):
        started = time.monotonic()
        try:
            processes[service.name] = start(service, state_dir, START_TIMEOUT_SECONDS)
        except ClusterError:
            down(engine)
            raise
        pid, seconds = processes[service.name], time.monotonic() - started
        announce(f"  {service.name:<12} up      pid {pid:<8} {seconds:5.1f}s")
    return {
        "engine": engine,
        "processes": processes,
        "job_endpoint": str(settings.job_endpoint),
        "worker_pool": str(settings.worker_pool),
        "web_ui": ENGINE_MODULES[engine].web_ui(settings),
        "logs": str(state_dir),
    }


def down(engine: str) -> dict:
    state_dir = load_cluster_settings().state_dir(engine)
    stopped = [name for name in reversed(ENGINE_MODULES[engine].PROCESS_NAMES) if stop(state_dir, name)]
    return {"engine": engine, "stopped": stopped}


def status(engine: str) -> dict:
    settings = load_cluster_settings()
    processes = _running(settings, engine)
    return {
        "engine": engine,
        "up": all(processes.values()),
        "processes": processes,
        "job_endpoint": str(settings.job_endpoint),
        "web_ui": ENGINE_MODULES[engine].web_ui(settings),
    }
