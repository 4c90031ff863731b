"""The cluster settings of `pipeline/configs/cluster.yaml`, with the environment's ports applied.

Read in one place so that `penguins cluster`, the Beam presets' endpoints and the tests agree on
which port is what.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from pipeline.config.settings import ConfigError
from pipeline.config.variables import expand_variables

CLUSTER_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cluster.yaml"
ENGINES = ("flink", "spark")


@dataclasses.dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, what: str) -> Endpoint:
        host, _, port = text.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"{what} {text!r} is not host:port")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """One engine's versions, Maven artifact and ports (the keys of its section of cluster.yaml)."""

    name: str
    version: str
    runner_artifact: str
    job_server_main: str
    ports: dict[str, int]
    options: dict[str, str]


@dataclasses.dataclass(frozen=True)
class ClusterSettings:
    beam_version: str
    job_endpoint: Endpoint
    worker_pool: Endpoint
    cache: Path
    state: Path
    engines: dict[str, EngineSettings]

    def state_dir(self, engine: str) -> Path:
        """Where a running cluster keeps its process ids, config and logs."""
        return self.state / engine

    def job_server_dir(self, engine: str) -> Path:
        return (
            self.cache
            / f"beam-{self.beam_version}"
            / f"{self.engines[engine].runner_artifact.split(':')[1]}-job-server"
        )


def _engine(name: str, raw: dict) -> EngineSettings:
    fixed = {"version", "runner_artifact", "job_server_main"}
    values = {key: expand_variables(str(value)) for key, value in raw.items()}
    ports = {}
    for key, value in values.items():
        if key.endswith("_port"):
            if not value.isdigit() or not 0 < int(value) < 65536:
                raise ConfigError(f"{CLUSTER_CONFIG}: {name}.{key} is {value!r}; expected a port number")
            ports[key.removesuffix("_port")] = int(value)
    options = {key: value for key, value in values.items() if key not in fixed and not key.endswith("_port")}
    return EngineSettings(
        name, values["version"], values["runner_artifact"], values["job_server_main"], ports, options
    )


def load_cluster_settings(path: Path = CLUSTER_CONFIG) -> ClusterSettings:
    try:
        raw = yaml.safe_load(path.read_text())
        return ClusterSettings(
            beam_version=str(raw["job_server"]["beam_version"]),
            job_endpoint=Endpoint.parse(expand_variables(raw["job_server"]["endpoint"]), "BEAM_JOB_ENDPOINT"),
            worker_pool=Endpoint.parse(expand_variables(raw["worker_pool"]["endpoint"]), "BEAM_WORKER_POOL"),
            cache=Path(expand_variables(raw["cache"])).expanduser(),
            state=Path(expand_variables(raw["state"])).expanduser(),
            engines={name: _engine(name, raw[name]) for name in ENGINES},
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"{path}: not a valid cluster settings file: {error!r}") from error
