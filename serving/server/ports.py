"""Binding the server's ports before anything slow starts, and refusing a busy one in one line.

Both ports are bound, and listening, before TensorFlow is even imported: a port that another
process holds is then reported at once, in one line, instead of after the models load. The host is
resolved once, and both APIs listen on the same addresses: left to itself, grpcio resolves
`localhost` its own way (to [::1] as well as, or instead of, 127.0.0.1), and a second server could
then take the address one API left free. The REST socket is bound here and handed to uvicorn,
because uvicorn reports its own bind failure only to the log and exits as if it had started. The
gRPC port is bound exclusively: grpcio otherwise sets SO_REUSEPORT, and two servers on one port
would silently split its connections between them.
"""

from __future__ import annotations

import errno
import socket
from concurrent import futures

import grpc

GRPC_WORKERS = 8
LISTEN_BACKLOG = 2048  # uvicorn's default


class PortUnavailableError(Exception):
    """A port cannot be listened on; `in_use` when another process holds it."""

    def __init__(self, message: str, in_use: bool):
        super().__init__(message)
        self.in_use = in_use


def listening_socket(host: str, port: int) -> socket.socket:
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


def addresses(host: str) -> list[str]:
    """The addresses `host` stands for, in the resolver's order, each once."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise PortUnavailableError(
            f"cannot listen on {host} ({error.strerror}); check --host", False
        ) from None
    return list(dict.fromkeys(address[4][0] for address in found))


def rest_sockets(addresses: list[str], port: int) -> list[socket.socket]:
    """A listening socket on each address; with port 0, the free port the first one got, on all."""
    sockets: list[socket.socket] = []
    try:
        for address in addresses:
            sockets.append(listening_socket(address, port))
            port = port or sockets[0].getsockname()[1]
    except OSError as error:
        for sock in sockets:
            sock.close()
        raise _unavailable("REST", "--port", address, port, error) from None
    return sockets


def grpc_server(addresses: list[str], port: int, max_request_bytes: int) -> grpc.Server:
    """A gRPC server bound to `port` on each address, not yet started."""
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
                listening_socket(address, port).close()
                reason = None
            except OSError as error:
                reason = error
            raise _unavailable("gRPC", "--grpc-port", address, port, reason) from None
    return server
