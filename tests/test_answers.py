"""The predict answer's JSON, written as bytes from the output arrays, read back by Python's own
JSON parser and compared with the arrays it came from, for every shape and kind a model outputs."""

import json

import numpy as np
import pytest

from serving.server.answers import columns_answer, rows_answer

AWKWARD = [b'a,"b"]', b"%s %b", b"[x],[y]", b"\xff\xfeend", b"back\\slash", b"", "é".encode()]


def _outputs(batch: int) -> dict[str, np.ndarray]:
    """Outputs of every kind the writer handles, `batch` examples each, with values that would break
    a writer that splits or formats text carelessly (commas, brackets, quotes, % signs, NaN)."""
    rng = np.random.default_rng(batch)
    probabilities = rng.random((batch, 3), dtype=np.float32)
    probabilities[0, 1], probabilities[-1, 0] = np.nan, np.float32(0.1)
    strings = np.array(AWKWARD * 6, dtype=object)
    return {
        "species": strings[:batch].copy(),
        "probabilities": probabilities,
        "classes": np.resize(strings, (batch, 3)),
        "deep strings": np.resize(strings[::-1], (batch, 2, 2)),
        "count %d": np.arange(batch, dtype=np.int64) * 10**15,
        "flags": rng.random((batch, 2)) > 0.5,
        "empty": np.zeros((batch, 2, 0), dtype=np.float32),
        "cube": rng.random((batch, 2, 2)),
    }


def _decoded(value):
    return value.decode("utf-8", "replace")


def _assert_value_is(parsed, array: np.ndarray) -> None:
    if array.dtype == object:
        assert parsed == np.vectorize(_decoded, otypes=[object])(array).tolist()
    else:
        # None is NaN's JSON text; equal to the bit once read back as the array's own type.
        np.testing.assert_array_equal(np.array(parsed, dtype=array.dtype), array)


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_rows_hold_each_examples_value_of_every_output(batch):
    outputs = _outputs(batch)
    predictions = json.loads(rows_answer(outputs))["predictions"]
    assert len(predictions) == batch
    for index, prediction in enumerate(predictions):
        assert list(prediction) == list(outputs)
        for name, array in outputs.items():
            _assert_value_is(prediction[name], np.asarray(array[index], dtype=array.dtype))


@pytest.mark.parametrize("batch", [1, 7])
def test_columns_hold_each_output_whole(batch):
    outputs = _outputs(batch)
    answered = json.loads(columns_answer(outputs))["outputs"]
    assert list(answered) == list(outputs)
    for name, array in outputs.items():
        _assert_value_is(answered[name], array)


def test_float32_is_written_in_its_shortest_form_and_nan_as_null():
    text = rows_answer(
        {"p": np.array([[0.1, np.nan]], dtype=np.float32), "c": np.array([b"x"], dtype=object)}
    )
    assert text == b'{"predictions":[{"p":[0.1,null],"c":"x"}]}'


@pytest.mark.parametrize("answer", [rows_answer, columns_answer])
@pytest.mark.parametrize(
    "array",
    [np.array(0.1, dtype=np.float32), np.array(b"one", dtype=object), np.array([[1, 2]], dtype=np.int32)],
)
def test_a_single_output_is_the_answer_itself(answer, array):
    key = "predictions" if answer is rows_answer else "outputs"
    _assert_value_is(json.loads(answer({"only": array}))[key], array)


def test_rows_refuse_outputs_that_cannot_be_split_per_example():
    scalar = {"p": np.zeros((2, 3), dtype=np.float32), "total": np.array(5.0, dtype=np.float32)}
    with pytest.raises(ValueError, match="output 'total' has no batch dimension"):
        rows_answer(scalar)
    uneven = {"p": np.zeros((2, 3), dtype=np.float32), "c": np.array([b"a"], dtype=object)}
    with pytest.raises(ValueError, match=r"differ in batch size: \{'p': 2, 'c': 1\}"):
        rows_answer(uneven)
