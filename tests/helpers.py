"""Shared helpers for tests: running the real `penguins` console script and reading outputs."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import yaml

from pipeline.config.metadata_location import SqliteLocation
from pipeline.intake.sources import bundled_penguins_csv
from pipeline.metadata.store import open_store

PENGUINS = Path(sys.executable).parent / "penguins"
REPO = Path(__file__).resolve().parent.parent


def penguins(
    *args: str, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Runs the installed console script, as a user would; output is captured as text.

    `env` adds variables to this process's environment for the run.
    """
    return subprocess.run(
        [str(PENGUINS), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
        env={**os.environ, **env} if env else None,
    )


def config_with_own_schema(folder: Path, **evaluation) -> tuple[Path, Path]:
    """The default config, written to `folder` with its own copy of the schema (which a test may edit)
    and `evaluation` keys changed; returns the config's path and the schema copy's."""
    import shutil

    from pipeline.config.settings import DEFAULT_CONFIG

    schema = folder / "schema.pbtxt"
    shutil.copyfile(REPO / "schema" / "penguins" / "schema.pbtxt", schema)
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    config["schema"] = str(schema)
    config["evaluation"].update(evaluation)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, schema


def workspace_store(workspace: Path):
    """The ML Metadata store of a workspace that uses its own SQLite file (the default)."""
    return open_store(SqliteLocation(workspace / "metadata.sqlite"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RunningServer:
    """`penguins serve` over `workspace` on free loopback ports, once it answers REST requests.

    With `upstream`, the front `penguins serve --upstream`, once its metrics page answers; with
    `upstream_grpc` too, it fronts that gRPC address on its own gRPC port.
    """

    STARTUP_SECONDS = 120

    def __init__(
        self, workspace: Path, *serve_args: str, upstream: str | None = None, upstream_grpc: str | None = None
    ):
        self.workspace = workspace
        self.rest_port, self.grpc_port = free_port(), free_port()
        api = ["--grpc-port", str(self.grpc_port)] if upstream_grpc or not upstream else []
        api += ["--upstream", upstream] if upstream else []
        api += ["--upstream-grpc", upstream_grpc] if upstream_grpc else []
        self.process = subprocess.Popen(
            [str(PENGUINS), "serve", "--workspace", str(workspace), "--port", str(self.rest_port),
             *api, "--poll-seconds", "0.2", *serve_args],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.rest = f"http://127.0.0.1:{self.rest_port}"
        self.grpc = f"127.0.0.1:{self.grpc_port}"
        ready = "/monitoring/prometheus/metrics" if upstream else "/v1/models/penguins"
        deadline = time.monotonic() + self.STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.communicate()
            try:
                if httpx.get(self.rest + ready, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise TimeoutError("server did not start")

    def status(self):
        return httpx.get(f"{self.rest}/v1/models/penguins").json()["model_version_status"]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        finally:
            self.process.kill()


@contextlib.contextmanager
def serve_published(
    workspace: Path, model_dir: Path, *serve_args: str
) -> Iterator[tuple[RunningServer, int]]:
    """`model_dir` published as a version into `workspace`, served until the block ends."""
    from serving.store.versions import publish

    version = publish(model_dir, workspace / "serving" / "penguins")
    server = RunningServer(workspace, *serve_args)
    try:
        yield server, version
    finally:
        server.stop()


def bundled_rows() -> list[dict[str, str]]:
    with bundled_penguins_csv().open(newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or list(rows[0])
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def tree_snapshot(folder: Path) -> dict[str, str]:
    """Every file under `folder` with a digest of its bytes, to prove nothing changed."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def component_lines(stdout: str) -> dict[str, str]:
    """Component name -> status, from the one-line-per-component progress output."""
    statuses = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].endswith("s") and line.startswith("  "):
            statuses[parts[0]] = parts[1]
    return statuses


def predict_in_process(model_path: Path, examples: list[dict]) -> tuple[list[str], object]:
    """The exported model's `serving_default` called in this process: labels and probabilities."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model_path))
    request = {
        name: tf.constant(
            [e[name] for e in examples], dtype=tf.string if isinstance(value, str) else tf.float32
        )
        for name, value in examples[0].items()
    }
    outputs = loaded.signatures["serving_default"](**request)
    return [s.decode() for s in outputs["species"].numpy()], outputs["probabilities"].numpy()


def parse_penguins_args(args: list[str]):
    """`args` parsed by the real `penguins` parser, as the console script would (without running them).

    Raises pipeline.cli.outcome.UsageError when a subcommand or flag does not exist.
    """
    from pipeline.cli.main import build_parser

    return build_parser(args).parse_args(args)


def _subcommand_parsers(parser) -> dict:
    import argparse

    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


def penguins_commands() -> set[str]:
    """The subcommands the `penguins` command has today."""
    from pipeline.cli.main import build_parser

    return set(_subcommand_parsers(build_parser([])))


def penguins_command_lines() -> list[list[str]]:
    """Every command line prefix the `penguins` parser knows, from `[]` to `["labels", "add"]`."""
    from pipeline.cli.main import build_parser

    def walk(parser, line: list[str]) -> list[list[str]]:
        children = _subcommand_parsers(parser).items()
        return [line, *(found for name, child in children for found in walk(child, [*line, name]))]

    return walk(build_parser([]), [])


def left_in_tmpdir(tmpdir: Path) -> list[Path]:
    """What a run left in its TMPDIR, apart from the bytecode Python caches of the modules that
    TensorFlow's autograph generates there (a few kB each, where bytecode is written)."""
    return [
        path
        for path in tmpdir.rglob("*")
        if not (path.name == "__pycache__" or path.name.startswith("__autograph_generated_file"))
    ]
