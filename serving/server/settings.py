"""What `penguins serve` was asked for, in one value that serving models and fronting TF Serving share.

Both kinds of server listen, limit requests, poll and record their traffic alike; the flags are
read into these once (pipeline/cli/serving.py), so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from pathlib import Path

import grpc

from serving.server import ports


@dataclasses.dataclass(frozen=True)
class Monitoring:
    """What a server records of its traffic: its request log (none when `request_log_dir` is None),
    and where the `penguins monitor` outcome that its metrics page shows is written."""

    request_log_dir: Path | None
    log_sample_rate: float
    monitoring_results: Path | None

    def start(self, model_name: str):
        """The started request log (or None) and the metrics that read it."""
        from serving.monitoring.metrics import ServingMetrics
        from serving.monitoring.request_log import RequestLog  # TensorFlow, imported once the ports are ours

        folder, rate = self.request_log_dir, self.log_sample_rate
        request_log = RequestLog(folder, rate).start() if folder else None
        logging.getLogger(__name__).info(
            "request log: %s", f"{folder}, sample rate {rate:g}" if request_log else "off"
        )
        return request_log, ServingMetrics(model_name, request_log, self.monitoring_results)


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """Where a server listens and what it accepts and records, whether it serves models or fronts
    TF Serving. `poll_seconds` is how often it looks for new versions: in its own folder, or which
    one the upstream answers with."""

    model_name: str
    host: str
    port: int
    grpc_port: int
    max_request_bytes: int
    poll_seconds: float
    monitoring: Monitoring

    def bind(self, with_grpc: bool) -> tuple[list[socket.socket], grpc.Server | None]:
        """The REST sockets, listening, and with `with_grpc` the gRPC server, bound but not started:
        both on every address the host stands for (serving/server/ports.py)."""
        addresses = ports.addresses(self.host)
        rest_sockets = ports.rest_sockets(addresses, self.port)
        if not with_grpc:
            return rest_sockets, None
        return rest_sockets, ports.grpc_server(addresses, self.grpc_port, self.max_request_bytes)

    def rest_url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"
