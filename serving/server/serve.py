"""`penguins serve`: the local model server, REST (uvicorn) and gRPC in one process, serving the
pushed models or fronting a TF Serving with request logging and metrics.

Ports are bound before anything slow starts (serving/server/ports.py). uvicorn handles SIGINT and
SIGTERM by finishing in-flight requests, then re-raises the signal to whatever handler was
installed before it. Installing a handler that only records the request turns that into a normal
return, so the gRPC server, the request log (which writes what it still holds) and the folder
watcher are stopped in turn and the process exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import uvicorn

from serving.server.settings import ServerSettings

GRPC_GRACE_SECONDS = 5


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


def _stopped(announce: Callable[[str], None]) -> None:
    logging.getLogger(__name__).info("server stopped")
    announce("Server stopped.")


def _serve_until_stopped(
    app,
    rest_sockets: list[socket.socket],
    settings: ServerSettings,
    stop_requested: threading.Event,
    running: contextlib.ExitStack,
    announce: Callable[[str], None],
) -> None:
    """REST until a stop is requested (or not at all, if one already was); then what `running`
    holds is stopped, the last started first."""
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    )
    try:
        if not stop_requested.is_set():
            server.run(sockets=rest_sockets)
    finally:
        running.close()
        _stopped(announce)


def _stop_grpc(server) -> None:
    server.stop(GRPC_GRACE_SECONDS).wait()


def _endpoints(settings: ServerSettings, grpc_line: str) -> str:
    from serving.monitoring.metrics import METRICS_PATH

    return (
        f"  REST     {settings.rest_url(f'/v1/models/{settings.model_name}')}\n"
        f"{grpc_line}"
        f"  metrics  {settings.rest_url(METRICS_PATH)}\n"
    )


def serve(settings: ServerSettings, serving_root: Path, announce: Callable[[str], None]) -> None:
    """Serves the versions pushed under `serving_root` until SIGINT or SIGTERM, picking up new ones
    as they come, logging and measuring the traffic as `settings.monitoring` says."""
    rest_sockets, grpc_server = settings.bind(with_grpc=True)
    from serving.server.grpc_service import ModelService, PredictionService, add_servicers
    from serving.server.repository import ModelRepository
    from serving.server.rest import build_app

    model_name = settings.model_name
    with _stop_signals() as stop_requested, contextlib.ExitStack() as running:
        repository = ModelRepository(serving_root, model_name, settings.poll_seconds).start()
        running.callback(repository.stop)
        request_log, metrics = settings.monitoring.start(model_name)
        if request_log is not None:
            running.callback(request_log.close)
        add_servicers(
            grpc_server, PredictionService(repository, request_log, metrics), ModelService(repository)
        )
        grpc_server.start()
        running.callback(_stop_grpc, grpc_server)
        app = build_app(repository, settings.max_request_bytes, request_log, metrics)
        versions = (
            ", ".join(str(s.version) for s in repository.status() if s.state == "AVAILABLE") or "none yet"
        )
        announce(
            f"Serving model '{model_name}' from {serving_root / model_name} (versions: {versions})\n"
            + _endpoints(settings, f"  gRPC     {settings.host}:{settings.grpc_port}\n")
            + "New versions are picked up as they are pushed. Ctrl-C or SIGTERM stops."
        )
        _serve_until_stopped(app, rest_sockets, settings, stop_requested, running, announce)


def serve_front(
    settings: ServerSettings,
    upstream_url: str,
    upstream_grpc: str | None,
    announce: Callable[[str], None],
    wait_for_upstream: bool = False,
) -> None:
    """TF Serving's REST API in front of the TF Serving at `upstream_url` (serving/server/front.py),
    and with `upstream_grpc` its gRPC API in front of that gRPC address on the gRPC port
    (serving/server/grpc_front.py), logged and measured, until SIGINT or SIGTERM; with
    `wait_for_upstream`, only once the upstream serves the model (serving/server/upstream_wait.py)."""
    rest_sockets, grpc_server = settings.bind(with_grpc=bool(upstream_grpc))
    from serving.server.front import Upstream, build_front_app
    from serving.server.grpc_front import FrontModelService, FrontPredictionService, UpstreamGrpc
    from serving.server.grpc_service import add_servicers
    from serving.server.upstream_wait import wait_for_model

    model_name = settings.model_name
    with _stop_signals() as stop_requested, contextlib.ExitStack() as running:
        if wait_for_upstream and not wait_for_model(
            upstream_url, model_name, settings.poll_seconds, stop_requested, announce
        ):
            for sock in rest_sockets:
                sock.close()
            _stopped(announce)
            return
        request_log, metrics = settings.monitoring.start(model_name)
        if request_log is not None:
            running.callback(request_log.close)
        upstream = Upstream(upstream_url, settings.poll_seconds)
        app = build_front_app(upstream, settings.max_request_bytes, request_log, metrics)
        grpc_line = ""
        if grpc_server is not None:
            upstream_channel = UpstreamGrpc(upstream_grpc)
            running.callback(upstream_channel.close)
            predictions = FrontPredictionService(upstream_channel, request_log, metrics)
            add_servicers(grpc_server, predictions, FrontModelService(upstream_channel))
            grpc_server.start()
            running.callback(_stop_grpc, grpc_server)
            grpc_line = f"  gRPC     {settings.host}:{settings.grpc_port} (from {upstream_grpc})\n"
        announce(
            f"Serving model '{model_name}' from the TF Serving at {upstream_url}, logging its requests\n"
            + _endpoints(settings, grpc_line)
            + "Ctrl-C or SIGTERM stops."
        )
        _serve_until_stopped(app, rest_sockets, settings, stop_requested, running, announce)
