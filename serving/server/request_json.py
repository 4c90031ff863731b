"""A predict request's JSON body, read the way TF Serving reads it: NaN is accepted as a number, the
mark of a missing value.

orjson reads a body several times faster than Python's parser but refuses NaN, and real traffic
holds NaN wherever a measurement is missing. So a body with NaN is read by orjson with each NaN
written as null, when the text proves that this changes nothing else: it has no null of its own,
and no NaN inside a string. The caller is told that its nulls are NaN.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from serving.server.predict import BadRequestError

# An integer literal longer than this is beyond any integer type; it is read as a float, as orjson
# reads it, so that one too large even for a float becomes infinity and is refused by name.
_LONGEST_INTEGER = 20


def _integer(text: str) -> int | float:
    return int(text) if len(text) <= _LONGEST_INTEGER else float(text)


def parse_body(raw: bytes) -> Any:
    """The body as Python's parser reads it (NaN as NaN); BadRequestError naming what is wrong when
    it is not JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _read_by_python(raw)


def parse_body_nulls_as_nan(raw: bytes) -> tuple[Any, bool]:
    """The body, and whether each null in it stands for a NaN of the text: the fast reading of a body
    with NaN, for a caller that turns nulls into NaN where it takes numbers."""
    if not _nan_only_as_value(raw):
        return parse_body(raw), False
    try:
        return orjson.loads(raw.replace(b"NaN", b"null")), True
    except orjson.JSONDecodeError:  # something else orjson refuses, such as Infinity: Python's parser decides
        return _read_by_python(raw), False


def _read_by_python(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_int=_integer)
    except RecursionError:
        raise BadRequestError("the request body is not valid JSON: it is nested too deeply") from None
    except ValueError as error:
        raise BadRequestError(f"the request body is not valid JSON: {error}") from None


def _nan_only_as_value(raw: bytes) -> bool:
    """Whether the text has NaN, no null, and no NaN inside a string. With no backslash in the text,
    a NaN is inside a string exactly when an odd number of quotes comes before it."""
    if b"NaN" not in raw or b"null" in raw or b"\\" in raw:
        return False
    quotes, counted_to, at = 0, 0, raw.find(b"NaN")
    while at != -1:
        quotes += raw.count(b'"', counted_to, at)
        if quotes % 2:
            return False
        counted_to, at = at, raw.find(b"NaN", at + 3)
    return True
