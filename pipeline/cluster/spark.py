"""A Spark standalone cluster on loopback: a master and a worker process, Beam's Spark job server in
front of it (the Spark driver of each job), and a Beam worker pool beside the worker.

Spark's launch scripts are not in PyPI's pyspark sdist, only its jars; the worker needs no more
than a SPARK_HOME holding them to launch executors, told the Scala version it cannot find out.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.cluster.artifacts import distribution_home, job_server_jars
from pipeline.cluster.beam_services import job_server_service, worker_pool_service
from pipeline.cluster.java import JAVA_17_OPTIONS, classpath
from pipeline.cluster.processes import Service, http_json
from pipeline.cluster.settings import ClusterSettings

PROCESS_NAMES = ("master", "worker", "job-server", "worker-pool")
# Spark 3.2's own Jackson, which clashes with Beam's newer one in the job server (Beam's
# jackson-module-scala, fetched with the job server, takes the place of Spark's).
_SPARK_JACKSON = ("jackson-annotations-", "jackson-core-", "jackson-databind-", "jackson-module-scala_")


def web_ui(settings: ClusterSettings) -> str:
    return f"http://127.0.0.1:{settings.engines['spark'].ports['ui']}"


def _spark_home(state_dir: Path, jars: Path) -> Path:
    home = state_dir / "spark-home"
    home.mkdir(exist_ok=True)
    link = home / "jars"
    if not link.is_symlink() or link.resolve() != jars.resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(jars)
    return home


def services(settings: ClusterSettings) -> list[Service]:
    spark = settings.engines["spark"]
    state_dir = settings.state_dir("spark")
    jars = distribution_home(settings, "spark") / "jars"
    beam_lib = job_server_jars(settings, "spark")
    environment = {
        "SPARK_HOME": str(_spark_home(state_dir, jars)),
        "SPARK_SCALA_VERSION": "2.12",
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    master_url = f"spark://127.0.0.1:{spark.ports['master']}"
    ui = web_ui(settings)

    def master_alive() -> bool:
        return (http_json(f"{ui}/json/") or {}).get("status") == "ALIVE"

    def worker_registered() -> bool:
        return (http_json(f"{ui}/json/") or {}).get("aliveworkers", 0) >= 1

    spark_classpath = classpath(jars)
    # Beam's jars first (its Guava and Jackson win), then Spark's but for its Jackson.
    spark_jars = [jar for jar in sorted(jars.glob("*.jar")) if not jar.name.startswith(_SPARK_JACKSON)]
    job_server_classpath = ":".join([classpath(beam_lib), *map(str, spark_jars)])
    executor_options = " ".join(JAVA_17_OPTIONS)
    job_server = job_server_service(
        settings, "spark", job_server_classpath, [f"--spark-master-url={master_url}"],
        jvm=[f"-Dspark.executor.extraJavaOptions={executor_options}",
             f"-Dspark.executor.extraClassPath={beam_lib}/*"],
        env=environment,
    )  # fmt: skip
    return [
        Service(
            "master",
            [
                "java",
                "-Xmx512m",
                "-cp",
                spark_classpath,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(spark.ports["master"]),
                "--webui-port",
                str(spark.ports["ui"]),
            ],
            master_alive,
            spark.ports["master"],
            "SPARK_MASTER_PORT",
            environment,
        ),
        Service(
            "worker",
            [
                "java",
                "-Xmx512m",
                "-cp",
                spark_classpath,
                "org.apache.spark.deploy.worker.Worker",
                "--host",
                "127.0.0.1",
                "--cores",
                spark.options["worker_cores"],
                "--memory",
                spark.options["worker_memory"],
                "--webui-port",
                str(spark.ports["worker_ui"]),
                "--work-dir",
                str(state_dir / "work"),
                master_url,
            ],
            worker_registered,
            spark.ports["worker_ui"],
            "SPARK_WORKER_UI_PORT",
            environment,
        ),
        job_server,
        worker_pool_service(settings),
    ]
