"""Request ids: one rule for an id a client gives, kept by `penguins predict`, the server and the front.

Late labels are joined on the id, so it must reach the request log as the client sent it, and come
back in a header or gRPC metadata unchanged: printable ASCII without spaces (a header trims them,
gRPC metadata carries nothing else), and short enough to be an id rather than a payload. An id
that breaks the rule is refused, REST 400 and gRPC INVALID_ARGUMENT, never logged as something else.
"""

from __future__ import annotations

import re
import reprlib
import uuid

REQUEST_ID_KEY = "x-request-id"  # the HTTP header (any case) and the gRPC metadata key
MAX_REQUEST_ID_LENGTH = 128
_REQUEST_ID = re.compile(rf"[!-~]{{1,{MAX_REQUEST_ID_LENGTH}}}")


class RequestIdError(ValueError):
    """A given request id breaks the rule."""


def checked_request_id(request_id: str) -> str:
    if not _REQUEST_ID.fullmatch(request_id):
        raise RequestIdError(
            f"a request id is 1 to {MAX_REQUEST_ID_LENGTH} printable ASCII characters without spaces, "
            f"got {reprlib.repr(request_id)}"
        )
    return request_id


def request_id_or_new(given: str | None) -> str:
    """The client's id when it sent one (RequestIdError if it breaks the rule), else a fresh one, so
    that every answer carries an id."""
    return uuid.uuid4().hex if given is None else checked_request_id(given)
