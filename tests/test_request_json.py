"""Request bodies with NaN: read by orjson with NaN as null only where that changes nothing else, and
otherwise exactly as Python's own JSON parser reads them."""

import json
import math

import pytest

from serving.server.predict import BadRequestError
from serving.server.request_json import parse_body, parse_body_nulls_as_nan

# NaN only outside strings, and no null of the body's own: orjson reads these, NaN as null.
NULLS_ARE_NAN = [
    '{"instances": [{"bill": NaN, "island": "Biscoe"}, {"bill": 39.1, "island": "Dream"}]}',
    '{"signature_name": "serving_default", "instances": [{"a": NaN, "b": NaN}, {"a": NaN, "b": 1}]}',
    '{"inputs": {"bill": [NaN, 2.0], "island": ["Biscoe", "Dream"]}}',
    '{"instances": [{"bill": [NaN, 1.0]}], "signature_name": NaN}',
]
# Where writing NaN as null would change more than the NaN: Python's parser reads these.
READ_BY_PYTHON = [
    '{"instances": [{"bill": NaN, "island": "NaN"}]}',  # NaN inside a string
    '{"instances": [{"NaN": 1.5, "bill": NaN}]}',  # NaN as a name
    '{"instances": [{"bill": NaN, "island": "Bis\\u0063oe"}]}',  # a backslash: quotes may be escaped
    '{"instances": [{"bill": NaN, "sex": null}]}',  # a null of the body's own
    '{"instances": [{"bill": NaN, "mass": Infinity}]}',  # what orjson refuses besides NaN
]


def _same(left, right) -> bool:
    """Equal as values, NaN included: Python's writer spells NaN out, and tells it from null."""
    return json.dumps(left) == json.dumps(right)


def _nan_for_null(value):
    if isinstance(value, dict):
        return {name: _nan_for_null(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_nan_for_null(item) for item in value]
    return math.nan if value is None else value


@pytest.mark.parametrize("text", NULLS_ARE_NAN)
def test_nan_outside_strings_is_read_as_null_and_only_nan_is(text):
    body, nulls_are_nan = parse_body_nulls_as_nan(text.encode())
    assert nulls_are_nan
    assert _same(_nan_for_null(body), json.loads(text))
    assert _same(parse_body(text.encode()), json.loads(text))


@pytest.mark.parametrize("text", READ_BY_PYTHON)
def test_a_body_where_null_would_change_more_than_nan_is_read_by_python(text):
    body, nulls_are_nan = parse_body_nulls_as_nan(text.encode())
    assert not nulls_are_nan
    assert _same(body, json.loads(text))


def test_a_body_with_no_nan_is_read_as_is():
    text = '{"instances": [{"bill": 39.1, "sex": null}]}'
    assert parse_body_nulls_as_nan(text.encode()) == (json.loads(text), False)


@pytest.mark.parametrize("text", ['{"instances": [{"bill": -NaN}]}', '{"instances": [NaNa]}'])
def test_a_body_no_parser_reads_is_refused_with_python_parsers_reason(text):
    with pytest.raises(BadRequestError, match="the request body is not valid JSON: Expecting "):
        parse_body_nulls_as_nan(text.encode())
