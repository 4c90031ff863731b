"""`penguins serve`: the local model server, REST (uvicorn) and gRPC in one process.

uvicorn handles SIGINT and SIGTERM by finishing in-flight requests, then re-raises the signal
to whatever handler was installed before it. Installing a handler that only records the
request turns that into a normal return, so the gRPC server and the folder watcher are
stopped in turn and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn

from serving.grpc_service import build_grpc_server
from serving.repository import ModelRepository
from serving.rest import build_app

GRPC_GRACE_SECONDS = 5


def serve(
    serving_root: Path,
    model_name: str,
    host: str,
    port: int,
    grpc_port: int,
    poll_seconds: float,
    announce: Callable[[str], None],
) -> None:
    stop_requested = threading.Event()
    previous_handlers = {
        sig: signal.signal(sig, lambda *_: stop_requested.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    repository = ModelRepository(serving_root, model_name, poll_seconds).start()
    grpc_server = build_grpc_server(repository, f"{host}:{grpc_port}")
    grpc_server.start()
    rest_server = uvicorn.Server(
        uvicorn.Config(build_app(repository), host=host, port=port, log_level="warning", access_log=False)
    )
    versions = ", ".join(str(s.version) for s in repository.status() if s.state == "AVAILABLE") or "none yet"
    announce(
        f"Serving model '{model_name}' from {serving_root / model_name} (versions: {versions})\n"
        f"  REST  http://{host}:{port}/v1/models/{model_name}\n"
        f"  gRPC  {host}:{grpc_port}\n"
        "New versions are picked up as they are pushed. Ctrl-C or SIGTERM stops."
    )
    try:
        if not stop_requested.is_set():
            rest_server.run()
    finally:
        grpc_server.stop(GRPC_GRACE_SECONDS).wait()
        repository.stop()
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        logging.getLogger(__name__).info("server stopped")
        announce("Server stopped.")
