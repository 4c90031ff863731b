"""Ports and server addresses as users give them, checked in one place for every command.

A port beyond 65535 is not refused by the system: the kernel and grpcio keep its low 16 bits, so
`--grpc-port 70000` would listen on 4464 while saying 70000, and Python's socket module raises
OverflowError. A REST address is an http(s) URL, a scheme-less `host:port` taken as http (as
`curl` takes it); any other scheme is refused before the first request rather than answered 502
on every one.
"""

from __future__ import annotations

PORT_MAX = 65535
REST_SCHEMES = ("http", "https")
DEFAULT_URLS = {"rest": "http://127.0.0.1:8501", "grpc": "127.0.0.1:8500"}


def port_number(text: str, what: str, any_free: bool = False) -> int:
    """`text` as a port, or ValueError naming `what` (a flag or an address); `any_free` allows 0, which
    asks the system for a free port."""
    lowest = 0 if any_free else 1
    if text.isascii() and text.isdigit() and lowest <= int(text) <= PORT_MAX:
        return int(text)
    lowest_text = "0 (any free port)" if any_free else "1"
    raise ValueError(f"{what} must be a port number from {lowest_text} to {PORT_MAX}, got {text!r}")


def _check_authority(authority: str, address: str, expected: str) -> None:
    """The host and the optional port of `host[:port]` or `[IPv6]:port`, as `address` holds them."""
    if authority.startswith("["):
        host, _, after = authority[1:].partition("]")
        port = after.removeprefix(":") if after else None
    else:
        host, colon, port = authority.rpartition(":")
        if not colon:
            host, port = authority, None
    if not host:
        raise ValueError(f"{address!r} names no host; expected {expected}")
    if port is not None:
        port_number(port, f"the port of {address!r}")


def rest_url(url: str) -> str:
    """The base URL of a REST API: `http://` added to a URL given without a scheme, any scheme other
    than http(s) refused (ValueError), and the port checked."""
    expected = f"http://host:port, such as {DEFAULT_URLS['rest']}"
    url = url.rstrip("/")
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest, url = "http", url, f"http://{url}"
    if scheme.lower() not in REST_SCHEMES:
        raise ValueError(f"a REST address is {expected}, got {url!r}")
    _check_authority(rest.partition("/")[0], url, expected)
    return url


def grpc_target(address: str) -> str:
    """A gRPC address as `host:port` (`grpc://` allowed), its port checked; ValueError otherwise."""
    expected = f"host:port, such as {DEFAULT_URLS['grpc']}"
    address = address.rstrip("/")
    scheme, separator, rest = address.partition("://")
    if not separator:
        rest = address
    elif scheme != "grpc" or "/" in rest:
        raise ValueError(f"a gRPC address is {expected}, got {address!r}")
    _check_authority(rest, address, expected)
    return rest
