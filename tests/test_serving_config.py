"""The TF Serving config files and the compose file, checked with real parsers.

No Docker engine runs here, so the container itself is never started: the compose file is
validated by a real compose implementation (`docker-compose config`), and every file the
server is pointed at is checked to be mounted and to parse.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipeline.config.metadata_location import parse_mysql_url
from pipeline.run.beam_options import resolve_beam_args
from pipeline.run.endpoints import required_endpoints
from serving.addresses import port_number
from serving.store.config_protos import (
    parse_batching_parameters,
    parse_model_server_config,
    parse_monitoring_config,
)
from serving.store.model_config import (
    CANARY,
    STABLE,
    TEMPLATE,
    choose_labels,
    loaded_versions,
    read_labels,
    render_live_config,
)
from serving.store.versions import publish
from tests.helpers import REPO, parse_penguins_args, penguins_commands

COMPOSE_FILE = REPO / "docker" / "docker-compose.yml"
SERVING_DIR = REPO / "serving"


def test_models_config_keeps_the_two_newest_versions():
    config = parse_model_server_config(TEMPLATE)
    (model,) = config.model_config_list.config
    assert model.name == "penguins"
    assert model.base_path == "/models/penguins"
    assert model.model_platform == "tensorflow"
    assert model.model_version_policy.latest.num_versions == 2


def test_live_config_labels_the_newest_servable_versions_and_loads_only_them(tmp_path, exported_model_dir):
    versions = [publish(exported_model_dir, tmp_path / "penguins") for _ in range(3)]
    path = render_live_config(tmp_path, "penguins", choose_labels(tmp_path / "penguins"))
    (model,) = parse_model_server_config(path).model_config_list.config
    assert dict(model.version_labels) == {CANARY: versions[2], STABLE: versions[1]}
    assert list(model.model_version_policy.specific.versions) == versions[1:]
    assert read_labels(tmp_path, "penguins") == {CANARY: versions[2], STABLE: versions[1]}
    assert loaded_versions(tmp_path, "penguins") == versions[1:]


def test_monitoring_exposes_prometheus():
    config = parse_monitoring_config(SERVING_DIR / "monitoring.config")
    assert config.prometheus_config.enable
    assert config.prometheus_config.path.startswith("/monitoring/")


def test_every_batching_field_of_tf_serving_parses(tmp_path):
    """A valid TF Serving batching config is never refused here: all of 2.16.1's fields, by number."""
    config = tmp_path / "batching.config"
    config.write_text(
        "max_batch_size { value: 256 }\n"
        "batch_timeout_micros { value: 2000 }\n"
        "max_enqueued_batches { value: 100 }\n"
        "num_batch_threads { value: 2 }\n"
        'thread_pool_name { value: "batch" }\n'
        "allowed_batch_sizes: 64\n"
        "allowed_batch_sizes: 256\n"
        "pad_variable_length_inputs: true\n"
        "enable_large_batch_splitting { value: true }\n"
        "max_execution_batch_size { value: 64 }\n"
    )
    batching = parse_batching_parameters(config)
    assert batching.enable_large_batch_splitting.value is True
    assert batching.max_execution_batch_size.value == 64
    numbers = {field.name: field.number for field in batching.DESCRIPTOR.fields}
    assert numbers["enable_large_batch_splitting"] == 8 and numbers["max_execution_batch_size"] == 9


def test_batching_parameters_are_sane():
    batching = parse_batching_parameters(SERVING_DIR / "batching.config")
    assert batching.max_batch_size.value >= 1
    assert 0 < batching.batch_timeout_micros.value <= 10_000
    assert batching.num_batch_threads.value >= 1


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    return None


def _resolved(*files: Path, profiles: tuple[str, ...] = ()) -> dict:
    command = _compose_command()
    if command is None:
        pytest.skip("no compose implementation installed (Debian's docker-compose package validates offline)")
    options = [option for file in files for option in ("-f", str(file))]
    options += [option for profile in profiles for option in ("--profile", profile)]
    result = subprocess.run([*command, *options, "config"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def compose_config():
    return _resolved(COMPOSE_FILE)


def test_compose_local_serves_with_this_projects_server_on_tf_servings_ports_and_folder(compose_config):
    """`make compose-up SERVING=local`: what the front and Prometheus expect of `serving` holds."""
    local = _resolved(COMPOSE_FILE, COMPOSE_FILE.with_name("compose.local.yml"))["services"]
    serving, tf_serving = local["serving"], compose_config["services"]["serving"]
    assert serving["image"] == compose_config["services"]["pipeline"]["image"]
    assert serving["entrypoint"] == ["penguins"]
    args = parse_penguins_args(serving["command"])
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in tf_serving["command"])
    assert (args.command, args.port, args.grpc_port) == ("serve", flags["rest_api_port"], flags["port"])
    assert args.host == "0.0.0.0" and args.no_request_log  # the front logs each request once
    assert _mounts(serving)[str(args.workspace / "serving")] == _mounts(tf_serving)["/models"]
    assert "ports" not in serving
    assert local["prometheus"]["image"] == "penguins-prometheus:latest"
    assert local["prometheus"]["command"] == compose_config["services"]["prometheus"]["command"]
    front = parse_penguins_args(local["front"]["command"])
    assert front.wait_for_upstream  # the order holds where healthchecks do not run


def test_compose_serving_service_runs_tf_serving_2_16(compose_config):
    serving = compose_config["services"]["serving"]
    assert serving["image"] == "tensorflow/serving:2.20.0"
    assert "ports" not in serving  # REST and gRPC are published by the logging front, the only door
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in serving["command"])
    assert flags["port"] == "8500" and flags["rest_api_port"] == "8501"
    assert int(flags["file_system_poll_wait_seconds"]) > 0
    assert int(flags["model_config_file_poll_wait_seconds"]) > 0


def test_compose_mounts_every_file_the_server_reads(compose_config):
    serving = compose_config["services"]["serving"]
    mounts = {}
    for volume in serving["volumes"]:
        source, target, mode = volume.split(":") if isinstance(volume, str) else (
            volume["source"], volume["target"], "ro" if volume.get("read_only") else "rw")  # fmt: skip
        mounts[target] = (Path(source), mode)
    assert all(mode == "ro" for _, mode in mounts.values())
    assert mounts["/models"][0] == REPO / "workspace" / "serving"
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in serving["command"])
    parsers = {
        "monitoring_config_file": parse_monitoring_config,
        "batching_parameters_file": parse_batching_parameters,
    }
    for flag, parse in parsers.items():
        source = mounts[flags[flag]][0]
        assert source.is_file(), flag
        parse(source)
    assert flags["model_config_file"] == "/models/models.config"  # rendered into the workspace by each push


def test_compose_healthcheck_asks_for_the_model_status(compose_config):
    test = " ".join(compose_config["services"]["serving"]["healthcheck"]["test"])
    assert "/dev/tcp/127.0.0.1/8501" in test
    assert "GET /v1/models/penguins " in test
    assert "AVAILABLE" in test


def _mounts(service: dict) -> dict[str, Path]:
    """Container path -> host path of a service's bind mounts, as the compose implementation resolved them."""
    mounts = {}
    for volume in service["volumes"]:
        source, target = (
            volume.split(":")[:2] if isinstance(volume, str) else (volume["source"], volume["target"])
        )
        mounts[target] = Path(source)
    return mounts


def test_compose_pipeline_service_runs_the_pipeline_image_on_the_workspace(compose_config):
    pipeline = compose_config["services"]["pipeline"]
    assert pipeline["build"]["dockerfile"] == "docker/Dockerfile"
    assert Path(pipeline["build"]["context"]) == REPO
    assert "entrypoint" not in pipeline  # the image's: the `penguins` console script
    args = parse_penguins_args(pipeline["command"])
    assert args.command == "run"
    assert _mounts(pipeline)[str(args.workspace)] == REPO / "workspace"


def test_compose_retrainer_uses_the_same_image_and_shares_the_model_folder_with_serving(compose_config):
    services = compose_config["services"]
    retrainer, pipeline = services["retrainer"], services["pipeline"]
    assert retrainer["image"] == pipeline["image"] and retrainer["build"] == pipeline["build"]
    command = retrainer["command"]
    assert command[:3] == ["schedule", "--cron", "0 3 * * *"] and "--when-new-data" in command
    # The cron expression is read in TZ, passed from the host, and UTC when the host sets none.
    assert retrainer["environment"]["TZ"] == os.environ.get("TZ", "UTC")
    workspace = Path(command[command.index("--workspace") + 1])
    host_workspace = _mounts(retrainer)[str(workspace)]
    assert _mounts(services["serving"])["/models"] == host_workspace / "serving"
    if "schedule" not in penguins_commands():
        pytest.skip("`penguins schedule` is not built yet: only the image, mounts and paths were checked")
    args = parse_penguins_args(command)
    assert args.command == "schedule" and args.workspace == workspace


def _scrape_targets(config_file: Path) -> dict[str, tuple[str, list[str]]]:
    """Job name -> (metrics path, targets) of a Prometheus config."""
    config = yaml.safe_load(config_file.read_text())
    return {
        job["job_name"]: (
            job.get("metrics_path", "/metrics"),
            [target for group in job["static_configs"] for target in group["targets"]],
        )
        for job in config["scrape_configs"]
    }


def test_compose_prometheus_scrapes_tf_serving_where_it_exposes_its_metrics(compose_config):
    services = compose_config["services"]
    prometheus = services["prometheus"]
    image, _, tag = prometheus["image"].partition(":")
    assert image == "prom/prometheus" and tag.startswith("v") and tag != "latest"
    flags = dict(flag.removeprefix("--").split("=", 1) for flag in prometheus["command"])
    config_file = _mounts(prometheus)[flags["config.file"]]
    assert config_file == REPO / "docker" / "prometheus.yml"
    metrics_path = parse_monitoring_config(SERVING_DIR / "monitoring.config").prometheus_config.path
    serving_flags = dict(flag.removeprefix("--").split("=", 1) for flag in services["serving"]["command"])
    front = parse_penguins_args(services["front"]["command"])
    assert _scrape_targets(config_file) == {
        "serving": (metrics_path, [f"serving:{serving_flags['rest_api_port']}"]),
        "front": (metrics_path, [f"front:{front.port}"]),
    }
    assert "prometheus-data" in compose_config["volumes"]


def test_compose_front_logs_the_rest_and_grpc_traffic_of_tf_serving_on_the_workspace(compose_config):
    services = compose_config["services"]
    front, serving = services["front"], services["serving"]
    assert front["image"] == services["pipeline"]["image"] and front["build"] == services["pipeline"]["build"]
    args = parse_penguins_args(front["command"])
    serving_flags = dict(flag.removeprefix("--").split("=", 1) for flag in serving["command"])
    assert args.command == "serve" and args.upstream == f"http://serving:{serving_flags['rest_api_port']}"
    assert args.upstream_grpc == f"serving:{serving_flags['port']}"
    assert args.host == "0.0.0.0"
    published = {(int(p["published"]), int(p["target"])) for p in front["ports"]}
    # The command checks its ports itself (serving/addresses.py), so argparse hands them on as text.
    ports = port_number(args.port, "--port"), port_number(args.grpc_port, "--grpc-port")
    assert published == {(8501, ports[0]), (8500, ports[1])}
    # Its request log and the monitoring outcome it shows are in the workspace whose models serving serves.
    assert _mounts(front)[str(args.workspace)] == _mounts(serving)["/models"].parent
    assert front["depends_on"]["serving"]["condition"] == "service_healthy"


# The compose file's `cluster` profile (`make compose-up PROFILE=cluster`): a Flink cluster for the
# `flink` Beam preset. Its registry images cannot be pulled here, so it is checked as resolved only.
CLUSTER_SERVICES = {"flink-jobmanager", "flink-taskmanager", "beam-job-server", "beam-worker-pool"}
CLUSTER_YAML = REPO / "pipeline" / "configs" / "cluster.yaml"


@pytest.fixture(scope="module")
def cluster_config():
    return _resolved(COMPOSE_FILE, profiles=("cluster", "mysql"))


def _flink_properties(service: dict) -> dict:
    return yaml.safe_load(service["environment"]["FLINK_PROPERTIES"])


def _published(service: dict) -> set[tuple[int, int]]:
    return {(int(port["published"]), int(port["target"])) for port in service.get("ports", [])}


def test_compose_cluster_profile_is_the_flink_cluster_of_make_flink_up(cluster_config):
    services = cluster_config["services"]
    # Only `--profile cluster` starts them: the stack without PROFILE is what it was.
    profiled = {name for name, service in services.items() if "cluster" in service.get("profiles", [])}
    assert profiled == CLUSTER_SERVICES
    assert all(services[name]["profiles"] == ["cluster"] for name in CLUSTER_SERVICES)
    # The same versions and sizes as the cluster `make flink-up` starts without containers.
    local = yaml.safe_load(CLUSTER_YAML.read_text())
    flink = local["flink"]
    jobmanager, taskmanager = services["flink-jobmanager"], services["flink-taskmanager"]
    assert jobmanager["image"] == taskmanager["image"] == f"flink:{flink['version']}-scala_2.12-java17"
    # The image's entrypoint takes the role as its argument (a compose implementation may list it).
    roles = [" ".join(service["command"]) if isinstance(service["command"], list) else service["command"]
             for service in (jobmanager, taskmanager)]  # fmt: skip
    assert roles == ["jobmanager", "taskmanager"]
    flink_minor = ".".join(flink["version"].split(".")[:2])
    assert services["beam-job-server"]["image"] == (
        f"apache/beam_flink{flink_minor}_job_server:{local['job_server']['beam_version']}"
    )
    assert flink["runner_artifact"].endswith(f"-{flink_minor}")
    properties = _flink_properties(taskmanager)
    assert properties["jobmanager.rpc.address"] == "flink-jobmanager"
    assert properties["taskmanager.numberOfTaskSlots"] == flink["task_slots"] == 2
    assert properties["taskmanager.memory.network.min"] == properties["taskmanager.memory.network.max"]
    assert properties["taskmanager.memory.network.max"] == flink["network_memory"] == "384m"
    assert properties["restart-strategy.type"] == "none"
    assert _flink_properties(jobmanager)["jobmanager.rpc.address"] == "flink-jobmanager"
    assert _flink_properties(jobmanager)["restart-strategy.type"] == "none"


def test_compose_cluster_publishes_flink_rest_and_the_job_api_and_links_them(cluster_config):
    services = cluster_config["services"]
    rest = int(os.environ.get("FLINK_REST_PORT", "8081"))
    jobs = int(os.environ.get("BEAM_JOB_PORT", "8099"))
    assert _published(services["flink-jobmanager"]) == {(rest, 8081)}
    assert _published(services["beam-job-server"]) == {(jobs, 8099)}
    assert not _published(services["flink-taskmanager"]) and not _published(services["beam-worker-pool"])
    command = services["beam-job-server"]["command"]
    # The JobManager's REST port inside the network, and the job server's own name for the artifact
    # endpoint it hands the client.
    assert "--flink-master=flink-jobmanager:8081" in command
    assert "--job-host=beam-job-server" in command


def test_compose_cluster_worker_pool_runs_beam_in_the_pipeline_image_beside_the_taskmanager(cluster_config):
    services = cluster_config["services"]
    pool, pipeline = services["beam-worker-pool"], services["pipeline"]
    assert pool["image"] == pipeline["image"] and pool["build"] == pipeline["build"]
    assert pool["user"] == pipeline["user"]
    # The image's entrypoint is `penguins`: the pool runs the image's own Python instead.
    assert pool["entrypoint"] == ["/app/.venv/bin/python"]
    assert pool["command"] == ["-m", "apache_beam.runners.worker.worker_pool_main", "--service_port=50000"]
    assert importlib.util.find_spec("apache_beam.runners.worker.worker_pool_main") is not None
    # The workers read and write the run's files at the path the pipeline service does.
    assert _mounts(pool)["/workspace"] == _mounts(pipeline)["/workspace"] == REPO / "workspace"
    # The TaskManager tells SDK workers to connect back on localhost, so the pool shares its
    # network, and the name BEAM_WORKER_POOL gives (dialed by the TaskManager) is an alias of it.
    assert pool["network_mode"] == "service:flink-taskmanager"
    assert "beam-worker-pool" in services["flink-taskmanager"]["networks"]["default"]["aliases"]


def test_compose_cluster_endpoints_are_what_the_flink_preset_dials(monkeypatch):
    monkeypatch.setenv("BEAM_JOB_ENDPOINT", "beam-job-server:8099")
    monkeypatch.setenv("BEAM_WORKER_POOL", "beam-worker-pool:50000")
    args = resolve_beam_args("flink", []).args
    assert required_endpoints(args) == [
        ("Beam job server", "beam-job-server:8099"),
        ("Beam worker pool", "beam-worker-pool:50000"),
    ]
    assert "--environment_type=EXTERNAL" in args


def _make_registry_images(*variables: str) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("no make here")
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", *variables,
         "--eval", "print-registry-images: ; @echo $(REGISTRY_IMAGES)", "print-registry-images"],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return sorted(result.stdout.split())


def test_makefile_pulls_the_registry_images_of_the_services_compose_up_starts(cluster_config):
    """What `make registry-images` pulls is what compose runs from a registry, profile by profile."""
    services = cluster_config["services"]
    not_built = {name: service["image"] for name, service in services.items() if "build" not in service}
    serving = sorted({image for name, image in not_built.items() if not services[name].get("profiles")})
    cluster = sorted({image for name, image in not_built.items() if name in CLUSTER_SERVICES})
    assert serving == ["prom/prometheus:v3.5.0", "tensorflow/serving:2.20.0"]
    assert cluster == ["apache/beam_flink1.19_job_server:2.62.0", "flink:1.19.3-scala_2.12-java17"]
    assert _make_registry_images() == serving
    assert _make_registry_images("SERVING=local") == []
    assert _make_registry_images("PROFILE=cluster") == sorted(serving + cluster)
    assert _make_registry_images("SERVING=local", "PROFILE=cluster") == cluster
    mysql = services["mysql"]["image"]
    assert _make_registry_images("METADATA=mysql") == sorted([*serving, mysql])
    assert _make_registry_images("SERVING=local", "METADATA=mysql") == []


# The compose file's `mysql` profile with docker/compose.mysql.yml (`make compose-up METADATA=mysql`):
# ML Metadata in a MySQL server for the pipeline, the retrainer and the front. mysql:8.4.6 cannot be
# pulled here, so it is checked as resolved; tests/test_container_run.py runs it on Debian's MariaDB.
MYSQL_OVERRIDE = COMPOSE_FILE.with_name("compose.mysql.yml")
METADATA_CLIENTS = ("pipeline", "retrainer", "front")


@pytest.fixture(scope="module")
def mysql_config():
    return _resolved(COMPOSE_FILE, MYSQL_OVERRIDE, profiles=("mysql", "pipeline"))


def _secret_targets(service: dict) -> set[str]:
    """Where a service's secrets appear in its container (compose's default: /run/secrets/NAME)."""
    return {
        secret.get("target") or f"/run/secrets/{secret['source']}"
        if isinstance(secret, dict)
        else f"/run/secrets/{secret}"
        for secret in service.get("secrets", [])
    }


def test_compose_mysql_profile_is_a_pinned_mysql_8_whose_passwords_are_secrets(mysql_config):
    mysql = mysql_config["services"]["mysql"]
    assert mysql["profiles"] == ["mysql"]
    image, _, tag = mysql["image"].partition(":")
    assert image == "mysql" and re.fullmatch(r"8\.\d+\.\d+", tag), mysql["image"]  # an exact MySQL 8 release
    # ML Metadata's client speaks mysql_native_password only, which MySQL 8.4 starts without.
    assert "--mysql-native-password=ON" in mysql["command"]
    environment = mysql["environment"]
    assert not {"MYSQL_PASSWORD", "MYSQL_ROOT_PASSWORD"} & set(environment)
    targets = _secret_targets(mysql)
    assert {environment["MYSQL_PASSWORD_FILE"], environment["MYSQL_ROOT_PASSWORD_FILE"]} <= targets
    for name, secret in mysql_config["secrets"].items():
        path = Path(secret["file"])
        assert path.parent == REPO / "docker" / "secrets", name
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO)
        assert ignored.returncode == 0, f"{path} is not ignored by git"
    # The data outlives the container; the init script the image runs once is mounted.
    mounts = _mounts(mysql)
    assert mounts["/docker-entrypoint-initdb.d"] == REPO / "docker" / "mysql" / "initdb.d"
    assert mounts["/var/lib/mysql"] == Path("mysql-data")
    assert "mysql-data" in mysql_config["volumes"]
    assert "ports" not in mysql  # reached on the compose network only
    # Healthy once the metadata user logs in over TCP (the initialising server listens on a socket).
    test = " ".join(mysql["healthcheck"]["test"])
    assert "--protocol=tcp" in test and environment["MYSQL_PASSWORD_FILE"] in test


def test_compose_mysql_init_switches_the_user_to_mysql_native_password():
    path = REPO / "docker" / "mysql" / "initdb.d" / "native-password.sh"
    # Sourced, not run, by the official image's entrypoint only when not executable: docker_process_sql
    # is the entrypoint's function.
    assert not os.access(path, os.X_OK)
    script = path.read_text()
    assert "IDENTIFIED WITH mysql_native_password BY '$MYSQL_PASSWORD'" in script  # MySQL 8.4
    assert "IDENTIFIED VIA mysql_native_password USING PASSWORD('$MYSQL_PASSWORD')" in script  # MariaDB
    bash = shutil.which("bash")
    if bash:
        assert (
            subprocess.run(
                [bash, "-n", str(REPO / "docker" / "mysql" / "initdb.d" / "native-password.sh")]
            ).returncode
            == 0
        )


def test_compose_mysql_profile_points_the_pipeline_retrainer_and_front_at_it(mysql_config):
    services = mysql_config["services"]
    mysql = services["mysql"]
    for name in METADATA_CLIENTS:
        service = services[name]
        location = parse_mysql_url(service["environment"]["PENGUINS_METADATA"], name)
        assert (location.host, location.port) == ("mysql", 3306), name
        assert location.database == mysql["environment"]["MYSQL_DATABASE"]
        assert location.user == mysql["environment"]["MYSQL_USER"]
        assert location.password == ""  # the password comes from the secret, never the YAML
        password_file = service["environment"]["PENGUINS_METADATA_PASSWORD_FILE"]
        assert password_file == mysql["environment"]["MYSQL_PASSWORD_FILE"]
        assert password_file in _secret_targets(service), name
        assert service["depends_on"]["mysql"]["condition"] == "service_healthy", name
    # The front still waits for serving as before.
    assert services["front"]["depends_on"]["serving"]["condition"] == "service_healthy"
    assert services["retrainer"]["environment"]["TZ"] == os.environ.get("TZ", "UTC")


def test_compose_without_the_mysql_profile_keeps_metadata_in_the_workspace(compose_config):
    services = compose_config["services"]
    for name in METADATA_CLIENTS:
        assert "PENGUINS_METADATA" not in services[name].get("environment", {}), name
        assert "mysql" not in services[name].get("depends_on", {}), name


def test_compose_no_password_is_written_in_the_compose_files():
    for path in (COMPOSE_FILE, MYSQL_OVERRIDE, COMPOSE_FILE.with_name("compose.local.yml")):
        text = path.read_text()
        assert not re.search(r"MYSQL_(ROOT_)?PASSWORD\s*:", text), path
        assert not re.search(r"mysql://[^@\s:/]+:[^@\s]+@", text), path


def test_compose_local_runs_the_mysql_service_on_debians_mariadb_with_the_same_contract(mysql_config):
    local = _resolved(
        COMPOSE_FILE, COMPOSE_FILE.with_name("compose.local.yml"), MYSQL_OVERRIDE, profiles=("mysql",)
    )
    mysql, official = local["services"]["mysql"], mysql_config["services"]["mysql"]
    assert mysql["image"] == "penguins-mariadb:latest"
    assert {key: value for key, value in mysql.items() if key != "image"} == {
        key: value for key, value in official.items() if key != "image"
    }
    entrypoint = (REPO / "docker" / "mariadb" / "docker-entrypoint.sh").read_text()
    # VAR_FILE is read by file_env VAR, as in the official image's entrypoint.
    for variable in official["environment"]:
        assert variable.removesuffix("_FILE") in entrypoint, variable
    assert "file_env MYSQL_PASSWORD\n" in entrypoint and "file_env MYSQL_ROOT_PASSWORD\n" in entrypoint
    assert "/docker-entrypoint-initdb.d/" in entrypoint and "--mysql-native-password=" in entrypoint
