"""`penguins serve`: the local model server, REST (uvicorn) and gRPC in one process.

Both ports are bound, and listening, before TensorFlow is even imported: a port that another
process holds is then reported at once, in one line, instead of after the models load. The host is
resolved once, and both APIs listen on the same addresses: left to itself, grpcio resolves
`localhost` its own way (to [::1] as well as, or instead of, 127.0.0.1), and a second server could
then take the address one API left free. The REST
socket is bound here and handed to uvicorn, because uvicorn reports its own bind failure only to
the log and exits as if it had started. The gRPC port is bound exclusively: grpcio otherwise sets
SO_REUSEPORT, and two servers on one port would silently split its connections between them.

uvicorn handles SIGINT and SIGTERM by finishing in-flight requests, then re-raises the signal
to whatever handler was installed before it. Installing a handler that only records the
request turns that into a normal return, so the gRPC server, the request log (which writes what
it still holds) and the folder watcher are stopped in turn and the process exits 0.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import grpc
import uvicorn

GRPC_GRACE_SECONDS = 5
GRPC_WORKERS = 8
LISTEN_BACKLOG = 2048  # uvicorn's default


class PortUnavailableError(Exception):
    """A port cannot be listened on; `in_use` when another process holds it."""

    def __init__(self, message: str, in_use: bool):
        super().__init__(message)
        self.in_use = in_use


def _listening_socket(host: str, port: int) -> socket.socket:
    """Listening at once: two sockets with SO_REUSEADDR may share a port until one of them listens.

    The protocol is named, not left 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on
    connections whose socket says IPPROTO_TCP, and with it on, a small answer written in two parts
    waits for the client's delayed acknowledgement, about 40 ms per request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _unavailable(api: str, flag: str, host: str, port: int, error: OSError | None) -> PortUnavailableError:
    if error is not None and error.errno == errno.EADDRINUSE:
        return PortUnavailableError(
            f"the {api} port {port} on {host} is already in use by another process; "
            f"stop that process or choose another port with {flag}",
            in_use=True,
        )
    reason = (error.strerror or str(error)) if error is not None else "grpcio gave no reason"
    return PortUnavailableError(
        f"cannot listen on {host}:{port} for {api} ({reason}); check {flag} and --host", False
    )


def _addresses(host: str) -> list[str]:
    """The addresses `host` stands for, in the resolver's order, each once."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise PortUnavailableError(
            f"cannot listen on {host} ({error.strerror}); check --host", False
        ) from None
    return list(dict.fromkeys(address[4][0] for address in found))


def _rest_sockets(addresses: list[str], port: int) -> list[socket.socket]:
    """A listening socket on each address; with port 0, the free port the first one got, on all."""
    sockets: list[socket.socket] = []
    try:
        for address in addresses:
            sockets.append(_listening_socket(address, port))
            port = port or sockets[0].getsockname()[1]
    except OSError as error:
        for sock in sockets:
            sock.close()
        raise _unavailable("REST", "--port", address, port, error) from None
    return sockets


def _grpc_server(addresses: list[str], port: int, max_request_bytes: int) -> grpc.Server:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS),
        options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", max_request_bytes)],
    )
    for address in addresses:
        try:
            port = server.add_insecure_port(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
        except RuntimeError:
            # grpcio does not say why; binding a plain socket there does.
            try:
                _listening_socket(address, port).close()
                reason = None
            except OSError as error:
                reason = error
            raise _unavailable("gRPC", "--grpc-port", address, port, reason) from None
    return server


@contextlib.contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM, for the length of the block."""
    stop_requested = threading.Event()
    previous_handlers = {
        sig: signal.signal(sig, lambda *_: stop_requested.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop_requested
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)


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


def _serve_rest(
    app, rest_sockets: list[socket.socket], host: str, port: int, stop_requested: threading.Event
) -> None:
    """Until a stop is requested (or at once, if one already was)."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    if not stop_requested.is_set():
        server.run(sockets=rest_sockets)


def _stopped(announce: Callable[[str], None]) -> None:
    logging.getLogger(__name__).info("server stopped")
    announce("Server stopped.")


def serve(
    serving_root: Path,
    model_name: str,
    host: str,
    port: int,
    grpc_port: int,
    max_request_bytes: int,
    poll_seconds: float,
    announce: Callable[[str], None],
    monitoring: Monitoring,
) -> None:
    """Serves until SIGINT or SIGTERM, logging and measuring its traffic as `monitoring` says."""
    addresses = _addresses(host)
    rest_sockets = _rest_sockets(addresses, port)
    grpc_server = _grpc_server(addresses, grpc_port, max_request_bytes)
    from serving.monitoring.metrics import METRICS_PATH
    from serving.server.grpc_service import ModelService, PredictionService, add_servicers
    from serving.server.repository import ModelRepository
    from serving.server.rest import build_app

    with _stop_signals() as stop_requested:
        repository = ModelRepository(serving_root, model_name, poll_seconds).start()
        request_log, metrics = monitoring.start(model_name)
        add_servicers(
            grpc_server, PredictionService(repository, request_log, metrics), ModelService(repository)
        )
        grpc_server.start()
        app = build_app(repository, max_request_bytes, request_log, metrics)
        versions = (
            ", ".join(str(s.version) for s in repository.status() if s.state == "AVAILABLE") or "none yet"
        )
        announce(
            f"Serving model '{model_name}' from {serving_root / model_name} (versions: {versions})\n"
            f"  REST     http://{host}:{port}/v1/models/{model_name}\n"
            f"  gRPC     {host}:{grpc_port}\n"
            f"  metrics  http://{host}:{port}{METRICS_PATH}\n"
            "New versions are picked up as they are pushed. Ctrl-C or SIGTERM stops."
        )
        try:
            _serve_rest(app, rest_sockets, host, port, stop_requested)
        finally:
            grpc_server.stop(GRPC_GRACE_SECONDS).wait()
            if request_log is not None:
                request_log.close()
            repository.stop()
            _stopped(announce)


def serve_front(
    upstream_url: str,
    upstream_grpc: str | None,
    model_name: str,
    host: str,
    port: int,
    grpc_port: int,
    max_request_bytes: int,
    poll_seconds: float,
    announce: Callable[[str], None],
    monitoring: Monitoring,
    wait_for_upstream: bool = False,
) -> None:
    """TF Serving's REST API in front of the TF Serving at `upstream_url` (serving/server/front.py),
    and with `upstream_grpc` its gRPC API in front of that gRPC address on `grpc_port`
    (serving/server/grpc_front.py), logged and measured, until SIGINT or SIGTERM; with
    `wait_for_upstream`, only once the upstream serves the model (serving/server/upstream_wait.py)."""
    addresses = _addresses(host)
    rest_sockets = _rest_sockets(addresses, port)
    grpc_server = _grpc_server(addresses, grpc_port, max_request_bytes) if upstream_grpc else None
    from serving.monitoring.metrics import METRICS_PATH
    from serving.server.front import Upstream, build_front_app
    from serving.server.grpc_front import FrontModelService, FrontPredictionService, UpstreamGrpc
    from serving.server.grpc_service import add_servicers
    from serving.server.upstream_wait import wait_for_model

    with _stop_signals() as stop_requested:
        if wait_for_upstream and not wait_for_model(
            upstream_url, model_name, poll_seconds, stop_requested, announce
        ):
            for sock in rest_sockets:
                sock.close()
            _stopped(announce)
            return
        request_log, metrics = monitoring.start(model_name)
        app = build_front_app(Upstream(upstream_url, poll_seconds), max_request_bytes, request_log, metrics)
        if grpc_server is not None:
            upstream = UpstreamGrpc(upstream_grpc)
            predictions = FrontPredictionService(upstream, request_log, metrics)
            add_servicers(grpc_server, predictions, FrontModelService(upstream))
            grpc_server.start()
        grpc_line = f"  gRPC     {host}:{grpc_port} (from {upstream_grpc})\n" if upstream_grpc else ""
        announce(
            f"Serving model '{model_name}' from the TF Serving at {upstream_url}, logging its requests\n"
            f"  REST     http://{host}:{port}/v1/models/{model_name}\n"
            f"{grpc_line}"
            f"  metrics  http://{host}:{port}{METRICS_PATH}\n"
            "Ctrl-C or SIGTERM stops."
        )
        try:
            _serve_rest(app, rest_sockets, host, port, stop_requested)
        finally:
            if grpc_server is not None:
                grpc_server.stop(GRPC_GRACE_SECONDS).wait()
                upstream.close()
            if request_log is not None:
                request_log.close()
            _stopped(announce)
