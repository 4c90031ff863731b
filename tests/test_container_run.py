"""The image, the pipeline container and the compose stack, built and run for real with docker or
podman through the Makefile's targets, as a user runs them.

Marked `container`: plain `make test` leaves them out, `make test-containers` runs them (CI once,
after .ci/container-engine). To stay within CI's budget they share one image build (`make image`
in a copy of the checkout as git lists it, so nothing local gets in), one pipeline run and one
compose up, and run in a user's order: build, run the pipeline, serve, retrain, recover from a
crash. Compose runs with SERVING=local, this project's server standing in for TF Serving, whose
image cannot be pulled here (docs/containers.md). Where no engine works they skip with
docker/engine's one-line reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from serving.client import PredictionClient
from serving.monitoring.log_reader import as_dict, read_examples
from serving.monitoring.metrics import REQUEST_COUNT
from tests.helpers import REPO, bundled_rows, free_port

pytestmark = pytest.mark.container

IMAGE = "penguins-pipeline:latest"
CALLER = 4242  # the uid and gid the containers run as: neither root nor the image's own 1000
PROJECT = "penguins-test"  # the compose project: a stack of the user's own stays as it is
FEATURES = ("island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex")
NUMERIC = FEATURES[1:5]


def _run(command: list[str], cwd: Path, env: dict | None = None, timeout: float = 900):
    return subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def _make(checkout: Path, *targets: str, env: dict | None = None, timeout: float = 900):
    """`make TARGETS` in the checkout as the caller; the result, asserted to have succeeded."""
    caller = [f"CONTAINER_UID={CALLER}", f"CONTAINER_GID={CALLER}"]
    # Not the variables of a `make test-containers ARGS=...` this runs under: make hands them on in
    # MAKEFLAGS and the environment, and pipeline-container would take its ARGS as the penguins command.
    env = {"MAKEFLAGS": "", "MFLAGS": "", "MAKELEVEL": "", "ARGS": "", **(env or {})}
    result = _run(["make", "--no-print-directory", *targets, *caller], checkout, env, timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def engine() -> str:
    result = _run([str(REPO / "docker" / "engine")], REPO)
    if result.returncode != 0:
        pytest.skip(result.stderr.strip().splitlines()[-1])
    return result.stdout.strip()


@pytest.fixture(scope="module")
def checkout(engine, tmp_path_factory) -> Path:
    """A copy of the checkout's files as git lists them (tracked and new, never .venv or
    workspace), where `make image` has built the image; caller's ./workspace in it."""
    root = tmp_path_factory.mktemp("checkout")
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    started = time.monotonic()
    built = _make(root, "image", timeout=1200)
    print(f"make image: {time.monotonic() - started:.0f} s ({built.stdout.strip()})")
    (root / "workspace").mkdir()
    os.chown(root / "workspace", CALLER, CALLER)
    return root


@pytest.fixture(scope="module")
def pushed(checkout) -> subprocess.CompletedProcess:
    """One `make pipeline-container` (its default: `penguins run`) on the checkout's ./workspace."""
    started = time.monotonic()
    result = _make(checkout, "pipeline-container")
    print(f"make pipeline-container: {time.monotonic() - started:.0f} s")
    return result


class Stack:
    """The compose stack on free ports, brought up by `make compose-up SERVING=local`."""

    def __init__(self, engine: str, checkout: Path):
        self.engine, self.checkout = engine, checkout
        self.workspace = checkout / "workspace"
        ports = {
            name: free_port() for name in ("PENGUINS_REST_PORT", "PENGUINS_GRPC_PORT", "PROMETHEUS_PORT")
        }
        self.env = {
            **{name: str(port) for name, port in ports.items()},
            "PENGUINS_RETRAIN_CRON": "* * * * *",
            "COMPOSE_PROJECT": PROJECT,
        }
        self.rest = f"http://127.0.0.1:{ports['PENGUINS_REST_PORT']}"
        self.grpc = f"127.0.0.1:{ports['PENGUINS_GRPC_PORT']}"
        self.prometheus = f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}"

    def up(self) -> float:
        """`make compose-up SERVING=local`, then until the front answers; the seconds that took."""
        started = time.monotonic()
        _make(self.checkout, "compose-up", "SERVING=local", env=self.env)
        self.wait_until_answered()
        return time.monotonic() - started

    def down(self) -> float:
        started = time.monotonic()
        _make(self.checkout, "compose-down", "SERVING=local", env=self.env)
        return time.monotonic() - started

    def wait_until_answered(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.post(
                    self.rest + "/v1/models/penguins:predict", json=_request(), timeout=5
                ).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise AssertionError(f"the front at {self.rest} answered no prediction in {timeout} s")

    def container(self, service: str) -> str:
        result = _run(
            [self.engine, "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
             "--filter", f"label=com.docker.compose.service={service}"],
            self.checkout,
        )  # fmt: skip
        (container,) = result.stdout.split()
        return container

    def image_command(self, *args: str) -> subprocess.CompletedProcess:
        """A `penguins` command in the image on the stack's workspace, as the caller."""
        return _run(
            [self.engine, "run", "--rm", "--user", f"{CALLER}:{CALLER}", "-v", f"{self.workspace}:/workspace",
             IMAGE, *args, "--workspace", "/workspace"],
            self.checkout,
        )  # fmt: skip


@pytest.fixture(scope="module")
def stack(engine, checkout, pushed):
    stack = Stack(engine, checkout)
    print(f"make compose-up SERVING=local, until the front answered: {stack.up():.0f} s")
    try:
        yield stack
    finally:
        print(f"make compose-down: {stack.down():.0f} s")


def _known_penguins(per_species: int = 3) -> list[dict]:
    """The first complete rows of each species in the bundled data, as (instance, species)."""
    chosen: dict[str, list] = {}
    for row in bundled_rows():
        if all(row[name] not in ("", "NA") for name in FEATURES):
            chosen.setdefault(row["species"], [])
            if len(chosen[row["species"]]) < per_species:
                instance = {name: float(row[name]) if name in NUMERIC else row[name] for name in FEATURES}
                chosen[row["species"]].append((instance, row["species"]))
    return [pair for pairs in chosen.values() for pair in pairs]


def _request() -> dict:
    return {"instances": [instance for instance, _ in _known_penguins(1)]}


class ClientLoop:
    """Predictions through the front, one after another on a thread, every answer's status kept."""

    def __init__(self, rest: str):
        self.rest, self.statuses, self._stop = rest, [], threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(base_url=self.rest, timeout=30) as client:
            while not self._stop.is_set():
                try:
                    status = client.post("/v1/models/penguins:predict", json=_request()).status_code
                except httpx.HTTPError as error:
                    status = type(error).__name__
                self.statuses.append(status)
                time.sleep(0.05)

    def __enter__(self) -> ClientLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def failed(self) -> list:
        return [status for status in self.statuses if status != 200]


def _wait_for(condition, what: str, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def test_the_image_builds_from_a_clean_checkout_and_runs_penguins_as_non_root(engine, checkout):
    user = _run([engine, "image", "inspect", "--format", "{{.Config.User}}", IMAGE], checkout).stdout.strip()
    assert user == "penguins"
    uid = _run([engine, "run", "--rm", "--entrypoint", "id", IMAGE, "-u"], checkout)
    assert uid.stdout.strip() == "1000", uid.stderr
    version = _run([engine, "run", "--rm", IMAGE, "--version"], checkout)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("penguins 0.1.0 (TFX 1.21.0, TensorFlow 2.21.0, Python 3.13.")


def test_the_build_trusts_the_ca_bundle_and_the_image_does_not_contain_it(engine, checkout):
    bundle = os.environ.get("PENGUINS_EXTRA_CA") or os.environ.get("SSL_CERT_FILE")
    if not bundle:
        pytest.skip("no CA bundle named by PENGUINS_EXTRA_CA or SSL_CERT_FILE: the build was given none")
    content = Path(bundle).read_bytes()
    # Every file of the bundle's size, anywhere in the image, and its digest: none is the bundle.
    found = _run(
        [engine, "run", "--rm", "--user", "0", "--entrypoint", "sh", IMAGE, "-c",
         f"find / -xdev -type f -size {len(content)}c -exec sha256sum {{}} +; ls /run/secrets 2>&1; env"],
        checkout,
    )  # fmt: skip
    assert hashlib.sha256(content).hexdigest() not in found.stdout
    assert "extra_ca" not in found.stdout and "SSL_CERT_FILE" not in found.stdout


def test_the_pipeline_container_pushes_a_model_owned_by_the_caller(checkout, pushed):
    assert "Pushed:    version" in pushed.stdout, pushed.stdout
    workspace = checkout / "workspace"
    (version,) = (workspace / "serving" / "penguins").iterdir()
    assert (version / "saved_model.pb").is_file()
    owners = {(path.lstat().st_uid, path.lstat().st_gid) for path in [workspace, *workspace.rglob("*")]}
    assert owners == {(CALLER, CALLER)}


def test_known_penguins_are_answered_right_through_the_fronts_rest_and_grpc_ports(stack):
    known = _known_penguins()
    for protocol, address in (("rest", stack.rest), ("grpc", stack.grpc)):
        with PredictionClient(address, protocol) as client:
            answers = client.predict([instance for instance, _ in known])
        assert [answer.label for answer in answers] == [species for _, species in known], protocol


def _front_requests(stack: Stack) -> float:
    """What Prometheus, in its container, counts of the front's answered requests."""
    query = f'sum({REQUEST_COUNT}{{job="front",status="OK"}})'
    answer = httpx.get(stack.prometheus + "/api/v1/query", params={"query": query}, timeout=10).json()
    assert answer["status"] == "success", answer
    return float(answer["data"]["result"][0]["value"][1]) if answer["data"]["result"] else 0.0


def test_prometheus_counts_the_requests_the_front_answered(stack):
    def health() -> dict[str, str]:
        targets = httpx.get(stack.prometheus + "/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        return {target["labels"]["job"]: target["health"] for target in targets}

    _wait_for(lambda: health() == {"front": "up", "serving": "up"}, "both targets scraped", timeout=90)
    before = _wait_for(lambda: _front_requests(stack), "a first scrape of the front", timeout=90)
    with httpx.Client(base_url=stack.rest) as client:
        for _ in range(5):
            assert client.post("/v1/models/penguins:predict", json=_request()).status_code == 200
    _wait_for(lambda: _front_requests(stack) >= before + 5, "the 5 requests counted", timeout=90)


def test_the_retrainer_pushes_after_new_data_and_serving_takes_it_up_without_a_failed_request(stack):
    served = {path.name for path in (stack.workspace / "serving" / "penguins").iterdir()}
    with ClientLoop(stack.rest) as loop:
        ingested = stack.image_command("ingest", "--bundled", "--year", "2008")
        assert ingested.returncode == 0, ingested.stderr
        # The schedule fires every minute (PENGUINS_RETRAIN_CRON); the retrain takes about a minute.
        (new,) = _wait_for(
            lambda: {p.name for p in (stack.workspace / "serving" / "penguins").iterdir()} - served,
            "a new version pushed by the retrainer",
            timeout=300,
        )

        def answers_from_new():
            statuses = httpx.get(stack.rest + "/v1/models/penguins", timeout=10).json()[
                "model_version_status"
            ]
            return any(s["version"] == new and s["state"] == "AVAILABLE" for s in statuses)

        _wait_for(answers_from_new, f"serving version {new}", timeout=60)
        time.sleep(3)
    assert loop.statuses and loop.failed() == []
    logs = _run([stack.engine, "logs", stack.container("retrainer")], stack.checkout)
    assert f"pushed version {new}" in logs.stdout + logs.stderr
    # The front logged answers from the new version: serving took it up without a restart.
    versions = {
        as_dict(e)["model_version"][0] for e in read_examples(stack.workspace / "monitoring" / "requests")
    }
    assert int(new) in versions


def test_serving_killed_under_load_comes_back_with_make_compose_up(stack):
    with ClientLoop(stack.rest) as loop:
        _wait_for(lambda: len(loop.statuses) > 10, "answers before the kill", timeout=60, every=0.2)
        killed = _run([stack.engine, "kill", "--signal", "KILL", stack.container("serving")], stack.checkout)
        assert killed.returncode == 0, killed.stderr
        _wait_for(lambda: loop.failed(), "a failed request once serving is killed", timeout=60, every=0.2)
        print(f"make compose-up after the kill, until answered: {stack.up():.0f} s")
        answered = len(loop.statuses)
        _wait_for(
            lambda: len(loop.statuses) > answered + 10, "answers after compose-up", timeout=60, every=0.2
        )
    assert set(loop.statuses[answered:]) == {200}
    # The request log is readable: the front's records, none lost to the crash upstream.
    assert sum(1 for _ in read_examples(stack.workspace / "monitoring" / "requests")) > 0
    monitor = stack.image_command("monitor")
    assert monitor.returncode == 0, monitor.stdout + monitor.stderr


# ML Metadata in the compose file's `mysql` service (METADATA=mysql), on Debian's MariaDB built here
# (SERVING=local; mysql:8.4.6 cannot be pulled). A stack of its own, on a workspace of its own, next
# to the one above: one pipeline run through compose's pipeline service, then the serving stack on
# what it pushed. The password is the secret `make` creates in that checkout, so the data volume of
# an earlier run (initialised with another password) is removed first.
MYSQL_PROJECT = "penguins-test-mysql"
MYSQL_DATABASE = "penguins_metadata"
# A statement ($0) as root, its password read from the secret inside the container.
ROOT_SQL = f'MYSQL_PWD="$(cat /run/secrets/mysql-root-password)" mysql -uroot -N -B -e "$0" {MYSQL_DATABASE}'


class MysqlStack(Stack):
    """The stack with METADATA=mysql, in a copy of the checkout (its own ./workspace and secrets)."""

    def __init__(self, engine: str, checkout: Path):
        super().__init__(engine, checkout)
        self.project = MYSQL_PROJECT
        self.env["COMPOSE_PROJECT"] = MYSQL_PROJECT

    def up(self) -> float:
        started = time.monotonic()
        _make(self.checkout, "compose-up", "SERVING=local", "METADATA=mysql", env=self.env)
        self.wait_until_answered()
        return time.monotonic() - started

    def container(self, service: str) -> str:
        result = _run(
            [self.engine, "ps", "-q", "--filter", f"label=com.docker.compose.project={self.project}",
             "--filter", f"label=com.docker.compose.service={service}"],
            self.checkout,
        )  # fmt: skip
        (container,) = result.stdout.split()
        return container

    def sql(self, statement: str) -> str:
        """A statement run as root in the mysql service's container; its output, tab-separated."""
        result = _run(
            [self.engine, "exec", self.container("mysql"), "sh", "-c",
             ROOT_SQL, statement],
            self.checkout,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def volume(self) -> str:
        return f"{self.project}_mysql-data"


@pytest.fixture(scope="module")
def mysql_stack(engine, checkout, tmp_path_factory):
    """The pipeline run with METADATA=mysql (`make pipeline-container SERVING=local METADATA=mysql`)."""
    root = tmp_path_factory.mktemp("mysql") / "checkout"
    shutil.copytree(
        checkout, root, ignore=lambda folder, names: ["workspace"] if Path(folder) == checkout else []
    )
    (root / "workspace").mkdir()
    os.chown(root / "workspace", CALLER, CALLER)
    stack = MysqlStack(engine, root)
    _run([engine, "volume", "rm", "--force", stack.volume()], root)
    started = time.monotonic()
    try:
        stack.pipeline = _make(root, "pipeline-container", "SERVING=local", "METADATA=mysql", env=stack.env)
        print(f"make pipeline-container SERVING=local METADATA=mysql: {time.monotonic() - started:.0f} s")
        yield stack
    finally:
        print(f"make compose-down (the mysql stack): {stack.down():.0f} s")
        for volume in (
            stack.volume(),
            f"{MYSQL_PROJECT}_prometheus-data",
            f"{MYSQL_PROJECT}_serving-workspace",
        ):
            _run([engine, "volume", "rm", "--force", volume], root)


def test_the_pipeline_service_records_its_metadata_in_the_mysql_service(mysql_stack):
    assert "Pushed:    version" in mysql_stack.pipeline.stdout, mysql_stack.pipeline.stdout
    workspace = mysql_stack.workspace
    assert (workspace / "serving" / "models.config").is_file()
    assert not (workspace / "metadata.sqlite").exists()
    # ML Metadata's tables are on the server, with the run's executions, recorded by the metadata user
    # through mysql_native_password (the only way ML Metadata's client logs in).
    assert int(mysql_stack.sql("SELECT COUNT(*) FROM Execution")) >= 5
    plugin = mysql_stack.sql("SELECT plugin FROM mysql.user WHERE user = 'penguins'")
    assert plugin == "mysql_native_password"
    secrets = mysql_stack.checkout / "docker" / "secrets"
    assert {path.name for path in secrets.iterdir()} == {"metadata-password", "mysql-root-password"}
    assert {path.stat().st_mode & 0o777 for path in secrets.iterdir()} == {0o600}


def test_with_mysql_metadata_the_front_answers_with_the_pushed_model_and_reads_the_same_store(mysql_stack):
    print(f"make compose-up SERVING=local METADATA=mysql, until the front answered: {mysql_stack.up():.0f} s")
    (pushed,) = (mysql_stack.workspace / "serving" / "penguins").iterdir()
    known = _known_penguins()
    with PredictionClient(mysql_stack.rest, "rest") as client:
        answers = client.predict([instance for instance, _ in known])
    assert [answer.label for answer in answers] == [species for _, species in known]
    status = httpx.get(mysql_stack.rest + "/v1/models/penguins", timeout=10).json()["model_version_status"]
    assert [entry["version"] for entry in status if entry["state"] == "AVAILABLE"] == [pushed.name]
    # The front's container is pointed at the server: `penguins history` there lists the run.
    history = _run(
        [mysql_stack.engine, "exec", mysql_stack.container("front"), "penguins", "history", "--json",
         "--workspace", "/workspace"],
        mysql_stack.checkout,
    )  # fmt: skip
    assert history.returncode == 0, history.stderr
    assert len(json.loads(history.stdout)) >= 1, history.stdout
    assert not (mysql_stack.workspace / "metadata.sqlite").exists()


def test_plain_make_compose_down_also_removes_the_mysql_service(mysql_stack):
    print(f"make compose-down: {mysql_stack.down():.0f} s")
    project = f"label=com.docker.compose.project={MYSQL_PROJECT}"
    left = _run([mysql_stack.engine, "ps", "-a", "-q", "--filter", project], mysql_stack.checkout)
    assert left.stdout.split() == []
