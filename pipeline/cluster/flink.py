"""A Flink standalone cluster on loopback: a JobManager and a TaskManager process, Beam's Flink job
server in front of it, and a Beam worker pool beside the TaskManager.

Flink's own start scripts are not used: they are not in PyPI's apache-flink-libraries. Like
them, the JVMs' memory options come from Flink's BashJavaUtils, which derives them from the
config written here, so the processes get exactly what `bin/start-cluster.sh` would give them.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from pipeline.cluster.artifacts import distribution_home, job_server_jars
from pipeline.cluster.beam_services import job_server_service, worker_pool_service
from pipeline.cluster.java import JAVA_17_OPTIONS, classpath, run_java
from pipeline.cluster.processes import ClusterError, Service, http_json
from pipeline.cluster.settings import ClusterSettings

PROCESS_NAMES = ("jobmanager", "taskmanager", "job-server", "worker-pool")
LOG4J = """\
monitorInterval = 0
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
logger.shaded_netty.name = org.apache.flink.shaded.netty4.io.netty
logger.shaded_netty.level = WARN
appender.main.name = MainAppender
appender.main.type = File
appender.main.append = true
appender.main.fileName = ${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
"""


def web_ui(settings: ClusterSettings) -> str:
    return f"http://127.0.0.1:{settings.engines['flink'].ports['rest']}"


def _write_config(settings: ClusterSettings, conf: Path) -> None:
    flink = settings.engines["flink"]
    config = {
        "jobmanager": {
            "bind-host": "127.0.0.1",
            "rpc": {"address": "127.0.0.1", "port": flink.ports["rpc"]},
            "memory": {"process": {"size": flink.options["jobmanager_memory"]}},
        },
        "taskmanager": {
            "bind-host": "127.0.0.1",
            "host": "127.0.0.1",
            "numberOfTaskSlots": int(flink.options["task_slots"]),
            "memory": {
                "process": {"size": flink.options["taskmanager_memory"]},
                # Beam's fused stages shuffle through many channels at once; Flink's default share
                # of a small TaskManager's memory leaves too few network buffers for TFX's jobs.
                "network": {"min": flink.options["network_memory"], "max": flink.options["network_memory"]},
            },
        },
        "rest": {"address": "127.0.0.1", "bind-address": "127.0.0.1", "port": flink.ports["rest"]},
        "parallelism": {"default": int(flink.options["task_slots"])},
        # A lost TaskManager fails the job instead of restarting it on a slot that will not come.
        "restart-strategy": {"type": "none"},
        "slot": {"request": {"timeout": int(flink.options["slot_request_timeout_ms"])}},
        # A killed TaskManager is noticed in seconds (Flink's default waits 50 s for its heartbeat).
        "heartbeat": {"interval": 2000, "timeout": 10000},
        # Flink's own temporary files stay in the cluster's folder, not in the shared /tmp.
        "io": {"tmp": {"dirs": str(conf.parent / "tmp")}},
    }
    conf.mkdir(parents=True, exist_ok=True)
    (conf.parent / "tmp").mkdir(exist_ok=True)
    (conf / "config.yaml").write_text(yaml.safe_dump(config))
    (conf / "log4j.properties").write_text(LOG4J)


def _resource_options(home: Path, conf: Path, which: str) -> tuple[list[str], list[str]]:
    """The JVM options and -D settings Flink's scripts would give a JobManager (JM) or TaskManager (TM)."""
    tools = classpath(home / "bin", home / "lib")
    output = run_java(
        [
            *JAVA_17_OPTIONS,
            "-cp",
            tools,
            "org.apache.flink.runtime.util.bash.BashJavaUtils",
            f"GET_{which}_RESOURCE_PARAMS",
            "--configDir",
            str(conf),
        ]
    )
    marker = "BASH_JAVA_UTILS_EXEC_RESULT:"
    results = [line[len(marker) :] for line in output.splitlines() if line.startswith(marker)]
    if len(results) < 2:
        raise ClusterError(
            f"Flink's BashJavaUtils gave no memory settings for the {which}: {output.strip()[-300:]}"
        )
    return results[0].split(), results[1].split()


def services(settings: ClusterSettings) -> list[Service]:
    flink = settings.engines["flink"]
    state_dir = settings.state_dir("flink")
    conf = state_dir / "conf"
    _write_config(settings, conf)
    home = distribution_home(settings, "flink")
    flink_classpath = classpath(home / "lib")
    rest = flink.ports["rest"]
    overview = f"http://127.0.0.1:{rest}"
    # The TaskManager's id, fresh at each start, tells it apart from one that died and is still listed.
    taskmanager_id = f"penguins-taskmanager-{time.time_ns()}"

    def process(name: str, which: str, main: str, extra: list[str]) -> list[str]:
        jvm, dynamic = _resource_options(home, conf, which)
        return [
            "java",
            *jvm,
            *JAVA_17_OPTIONS,
            f"-Djava.io.tmpdir={state_dir / 'tmp'}",
            f"-Dlog.file={state_dir / name}.log",
            f"-Dlog4j.configurationFile=file:{conf / 'log4j.properties'}",
            "-cp",
            flink_classpath,
            main,
            "--configDir",
            str(conf),
            *extra,
            *dynamic,
        ]

    def taskmanager_registered() -> bool:
        listed = http_json(f"{overview}/taskmanagers") or {}
        return any(entry.get("id") == taskmanager_id for entry in listed.get("taskmanagers", ()))

    return [
        Service(
            "jobmanager",
            process(
                "jobmanager",
                "JM",
                "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
                ["--executionMode", "cluster"],
            ),
            lambda: http_json(f"{overview}/overview") is not None,
            rest,
            "FLINK_REST_PORT",
        ),
        Service(
            "taskmanager",
            process(
                "taskmanager",
                "TM",
                "org.apache.flink.runtime.taskexecutor.TaskManagerRunner",
                ["-D", f"taskmanager.resource-id={taskmanager_id}"],
            ),
            taskmanager_registered,
            None,
            "",
        ),
        job_server_service(
            settings,
            "flink",
            # Flink's log4j jars give the job server a logger (it has none of its own).
            ":".join(
                [
                    classpath(job_server_jars(settings, "flink")),
                    *map(str, sorted((home / "lib").glob("log4j-*.jar"))),
                ]
            ),
            [f"--flink-master=127.0.0.1:{rest}"],
            jvm=[
                f"-Djava.io.tmpdir={state_dir / 'tmp'}",
                f"-Dlog.file={state_dir / 'job-server'}.log",
                f"-Dlog4j.configurationFile=file:{conf / 'log4j.properties'}",
            ],
        ),
        worker_pool_service(settings),
    ]
