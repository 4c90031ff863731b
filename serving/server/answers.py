"""The JSON text of a predict answer, in TF Serving's row and columnar formats, written as bytes
straight from the model's output arrays.

Building a Python dict per example and a Python float per number first, then serialising them,
took more time than the model's own call on a batch of 1,000. Numbers are written by orjson,
which keeps a float32's shortest form (0.1, not 0.10000000149011612) and writes NaN as null;
strings are decoded as TF Serving decodes DT_STRING outputs, each distinct value once, since a
model's few classes repeat over the batch.
"""

from __future__ import annotations

import numpy as np
import orjson


def _text(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


def _strings_as_texts(array: np.ndarray) -> list[bytes]:
    """The JSON text of each string of `array`, in row-major order; each distinct one decoded once."""
    strings = array.ravel().tolist()
    texts = {value: _text(value.decode("utf-8", "replace")) for value in set(strings)}
    return list(map(texts.__getitem__, strings))


def _grouped(texts: list[bytes], shape: tuple[int, ...]) -> list[bytes]:
    """`texts`, in row-major order, written as lists nested to `shape`: one text per item of the
    dimension before `shape`."""
    for size in reversed(shape):
        rows = map(b",".join, zip(*(texts[offset::size] for offset in range(size)), strict=True))
        texts = [b"[" + row + b"]" for row in rows]
    return texts


def _as_numbers(array: np.ndarray) -> np.ndarray:
    """A string output with no strings at all is written as the empty lists of a number array."""
    return np.zeros(array.shape, dtype=np.float32) if array.dtype == object and not array.size else array


def _value_text(array: np.ndarray) -> bytes:
    """A whole output as one JSON value."""
    array = _as_numbers(array)
    if array.dtype == object:
        return _grouped(_strings_as_texts(array), array.shape)[0]
    if array.ndim == 0:
        return _text(array.reshape(1))[1:-1]  # orjson writes no 0-d array; its one item is the value
    return _text(np.ascontiguousarray(array))


def _example_texts(name: str, array: np.ndarray) -> list[bytes]:
    """The JSON text of each example's value of one output, along its batch dimension."""
    if array.ndim == 0:
        raise ValueError(
            f"output '{name}' has no batch dimension, so it cannot be split into one value per instance; "
            "ask for the columnar format ('inputs') instead"
        )
    array = _as_numbers(array)
    if array.dtype == object:
        return _grouped(_strings_as_texts(array), array.shape[1:])
    # Numbers hold no brackets or commas, so the examples' texts are found by splitting the whole
    # text at its outermost separators: "],[" between the rows of a matrix, "," between numbers.
    depth = array.ndim - 1
    whole = _text(np.ascontiguousarray(array))
    opening, closing = b"[" * depth, b"]" * depth
    inner = whole[depth + 1 : len(whole) - depth - 1]
    parts = inner.split(closing + b"," + opening)
    return list(map((opening + b"%b" + closing).__mod__, parts)) if depth else parts


def rows_answer(outputs: dict[str, np.ndarray]) -> bytes:
    """`{"predictions": [...]}`, an item per example: a single output's value, or an object of
    several outputs' values by name."""
    if len(outputs) == 1:
        return b'{"predictions":' + _value_text(next(iter(outputs.values()))) + b"}"
    texts = [_example_texts(name, array) for name, array in outputs.items()]
    sizes = {name: len(values) for name, values in zip(outputs, texts, strict=True)}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"the model's outputs differ in batch size: {sizes}")
    keys = (_text(name).replace(b"%", b"%%") for name in outputs)
    template = b"{" + b",".join(key + b":%b" for key in keys) + b"}"
    return b'{"predictions":[' + b",".join(map(template.__mod__, zip(*texts, strict=True))) + b"]}"


def columns_answer(outputs: dict[str, np.ndarray]) -> bytes:
    """`{"outputs": ...}`: a single output's value, or an object of the outputs' values by name."""
    if len(outputs) == 1:
        return b'{"outputs":' + _value_text(next(iter(outputs.values()))) + b"}"
    fields = (_text(name) + b":" + _value_text(array) for name, array in outputs.items())
    return b'{"outputs":{' + b",".join(fields) + b"}}"
