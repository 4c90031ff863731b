"""Prediction with TF Serving's request semantics, shared by the REST and gRPC front ends.

Requests are checked against the signature before TensorFlow sees them, so that an unknown
input, a missing one or a value of the wrong type gets a message that names it, as TF Serving's
own errors do, instead of a stack trace from inside a graph.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import numbers
import operator
import reprlib
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from serving.server.repository import LoadedVersion, NotFoundError

MAX_RANK = 32  # numpy's limit on an array's dimensions
_TEXT, _NUMBERS, _NUMBERS_OR_NULL = {str}, {float, int}, {float, int, type(None)}


class BadRequestError(ValueError):
    """The request does not fit the signature; REST answers 400, gRPC INVALID_ARGUMENT."""


def first_line(error: BaseException) -> str:
    return (str(error).splitlines() or [""])[0] or type(error).__name__


@contextlib.contextmanager
def reading_request() -> Iterator[None]:
    """Whatever fails while a request is read and checked is the request's fault, not the server's.

    The checks name what they can; this catches the inputs nobody thought of (a structure too
    deep to walk, a value no conversion accepts), so that they too get a bad-request answer.
    """
    try:
        yield
    except (BadRequestError, NotFoundError):
        raise
    except Exception as error:
        raise BadRequestError(
            f"the request cannot be read: {type(error).__name__}: {first_line(error)}"
        ) from error


@dataclasses.dataclass(frozen=True)
class SignatureInput:
    """One input of a signature, with what the checks ask of its TensorSpec read once: TensorFlow's
    DType and TensorShape answer each question in microseconds, and a request asks them of every
    input, more often than the model of a single instance takes to answer."""

    spec: tf.TensorSpec
    numpy_dtype: Any  # what the input's values are converted to: a numpy dtype, `object` for text
    text: bool
    number: bool  # integer or floating
    floating: bool
    shape: tuple[int | None, ...] | None  # None where the rank is unknown; a None dimension takes any size

    @classmethod
    def of(cls, spec: tf.TensorSpec) -> SignatureInput:
        dtype, text = spec.dtype, spec.dtype == tf.string
        return cls(
            spec,
            object if text else dtype.as_numpy_dtype,
            text,
            dtype.is_floating or dtype.is_integer,
            dtype.is_floating,
            tuple(spec.shape.as_list()) if spec.shape.rank is not None else None,
        )

    def fits(self, shape: tuple[int, ...]) -> bool:
        return self.shape is None or (
            len(shape) == len(self.shape)
            and all(want is None or want == size for want, size in zip(self.shape, shape, strict=True))
        )


# A signature's inputs, read once per loaded signature (and dropped with it when its version unloads).
_INPUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def input_specs(loaded: LoadedVersion, signature_name: Any) -> dict[str, SignatureInput]:
    if not isinstance(signature_name, str):
        raise BadRequestError(f"'signature_name' must be a string, got {reprlib.repr(signature_name)}")
    signature = loaded.signature(signature_name)
    inputs = _INPUTS.get(signature)
    if inputs is None:
        specs = signature.structured_input_signature[1]
        inputs = _INPUTS[signature] = {name: SignatureInput.of(spec) for name, spec in specs.items()}
    return inputs


def _shape_text(spec: tf.TensorSpec) -> str:
    return str([d if d is not None else -1 for d in spec.shape.as_list()])


def _check_value(name: str, spec: tf.TensorSpec, value: Any, where: str) -> Any:
    if spec.dtype == tf.string:
        if isinstance(value, dict) and set(value) == {"b64"}:
            return _base64(name, value["b64"], where)
        if isinstance(value, str):
            try:
                return value.encode()
            except UnicodeEncodeError:
                raise BadRequestError(
                    f"{where}: input '{name}' is not valid Unicode text (it holds a lone surrogate "
                    f"such as \\ud800), got {reprlib.repr(value)}"
                ) from None
        raise BadRequestError(
            f"{where}: input '{name}' expects a string (DT_STRING), got {reprlib.repr(value)}"
        )
    if spec.dtype.is_floating or spec.dtype.is_integer:
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            return value
        raise BadRequestError(
            f"{where}: input '{name}' expects a number ({spec.dtype.name}), got {reprlib.repr(value)}"
        )
    if spec.dtype == tf.bool and isinstance(value, bool):
        return value
    raise BadRequestError(f"{where}: input '{name}' has unsupported type {spec.dtype.name}")


def _base64(name: str, text: Any, where: str) -> bytes:
    """Strict decoding: a character outside the base64 alphabet is an error, not silently dropped."""
    if not isinstance(text, str):
        raise BadRequestError(
            f'{where}: input \'{name}\' must be {{"b64": "<base64 text>"}}, got "b64": {reprlib.repr(text)}'
        )
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise BadRequestError(f"{where}: input '{name}' is not valid base64: {reprlib.repr(text)}") from None


def _fast_array(given: SignatureInput, values: Sequence, nulls_are_nan: bool) -> np.ndarray | None:
    """The common case, flat values all of the expected kind, checked and converted by C loops, not a
    Python step per value: a large batch would otherwise spend more time here than in the model.
    Where `nulls_are_nan`, numpy turns each None into the NaN it stands for."""
    kinds = set(map(type, values))
    if given.text:
        if kinds != _TEXT:
            return None
        try:
            "".join(values).encode()  # TensorFlow encodes each value as UTF-8, as this does
        except UnicodeEncodeError:
            return None  # the checked path names the example with the lone surrogate
        return np.array(values, dtype=object)
    numbers = _NUMBERS_OR_NULL if nulls_are_nan and given.floating else _NUMBERS
    if given.number and kinds <= numbers:
        return np.asarray(values, dtype=given.numpy_dtype)
    return None


def _checked_array(name: str, given: SignatureInput, values: Sequence, where: str) -> np.ndarray:
    # An example's own value is the signature's shape less its batch dimension; deeper nesting is
    # refused before walking it, however deep it goes.
    spec = given.spec
    depth_allowed = len(given.shape) - 1 if given.shape is not None else MAX_RANK

    def check(value, index, depth=0):
        if isinstance(value, list):
            if depth >= depth_allowed:
                raise BadRequestError(
                    f"{where} {index}: input '{name}' nests lists deeper than the signature's shape "
                    f"{_shape_text(spec)} allows"
                )
            return [check(item, index, depth + 1) for item in value]
        return _check_value(name, spec, value, f"{where} {index}")

    checked = [check(value, index) for index, value in enumerate(values)]
    try:
        return np.array(checked, dtype=given.numpy_dtype)
    except ValueError:
        raise BadRequestError(
            f"input '{name}' does not form a regular array: its nested lists differ in length "
            "or nest too deeply"
        ) from None


def _checked(name: str, given: SignatureInput, array: np.ndarray, where: str) -> np.ndarray:
    """`array`, once its shape fits the signature and every number is finite.

    The training data refuses infinite values, so a model has never seen one; NaN stays
    accepted, as the mark of a missing value that the model imputes.
    """
    if not given.fits(array.shape):
        raise BadRequestError(
            f"input '{name}' has shape {list(array.shape)}, the signature expects {_shape_text(given.spec)}"
        )
    if array.dtype.kind == "f":
        infinite = np.isinf(array)
        if np.count_nonzero(infinite):  # half the time of infinite.any(), a Python method, on a few values
            at = f"{where} {np.argwhere(infinite)[0][0]}: " if array.ndim else ""
            raise BadRequestError(
                f"{at}input '{name}' is infinite or beyond {given.spec.dtype.name}'s range; "
                "send a finite number, or NaN for a missing value"
            )
    return array


def checked_arrays(
    arrays: dict[str, np.ndarray], inputs: dict[str, SignatureInput], where: str
) -> dict[str, np.ndarray]:
    """`arrays`, a request's inputs already of the signature's types, each checked to fit its input."""
    return {name: _checked(name, inputs[name], array, where) for name, array in arrays.items()}


def _columns_arrays(
    columns: dict[str, Sequence], inputs: dict[str, SignatureInput], where: str, nulls_are_nan: bool
) -> dict[str, np.ndarray]:
    """The checked arrays of the request's values, a column of them by input name. A number beyond its
    input's type becomes infinity, refused by name; numpy's warning about it is kept off once for
    all the columns, its switch costing more than a small column's conversion."""
    arrays = {}
    with np.errstate(over="ignore"):
        for name, values in columns.items():
            given = inputs[name]
            array = _fast_array(given, values, nulls_are_nan)
            if array is None:
                array = _checked_array(name, given, values, where)
            arrays[name] = _checked(name, given, array, where)
    return arrays


def as_tensors(arrays: dict[str, np.ndarray], inputs: dict[str, SignatureInput]) -> dict[str, tf.Tensor]:
    """The tensors of checked arrays, once all hold the same number of examples: inputs of different
    lengths would otherwise fail inside the graph, naming none of them."""
    lengths = {name: array.shape[0] for name, array in arrays.items() if array.ndim}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"'{name}' {length}" for name, length in sorted(lengths.items()))
        raise BadRequestError(f"inputs must hold the same number of examples, got {listed}")
    return {name: tf.constant(array, dtype=inputs[name].spec.dtype) for name, array in arrays.items()}


def _check_names(given: set[str], specs: dict[str, SignatureInput], where: str) -> None:
    unknown = sorted(given - set(specs))
    if unknown:
        raise BadRequestError(f"{where}: unknown input(s) {unknown}; the signature takes {sorted(specs)}")
    missing = sorted(set(specs) - given)
    if missing:
        raise BadRequestError(f"{where}: missing input(s) {missing}; the signature takes {sorted(specs)}")


def _columns_of_named_objects(names: list[str], instances: list) -> list | None:
    """The instances' values, a column per name, when every instance is an object of exactly `names`
    (one holding every name and no more keys than there are names); None otherwise. C loops only: a
    Python step per instance costs a batch of 1,000 as much as its tensors do."""
    if set(map(type, instances)) != {dict} or sum(map(len, instances)) != len(names) * len(instances):
        return None
    try:
        rows = list(map(operator.itemgetter(*names), instances))
    except KeyError:
        return None
    return list(zip(*rows, strict=True)) if len(names) > 1 else [rows]


def rows_to_arrays(
    instances: Any, specs: dict[str, SignatureInput], nulls_are_nan: bool
) -> dict[str, np.ndarray]:
    """TF Serving's row format: a list of instances, each an object of named inputs. Where
    `nulls_are_nan` (see request_json.py), a null is taken as NaN where a float is expected, and
    refused anywhere else."""
    if not isinstance(instances, list) or not instances:
        raise BadRequestError("'instances' must be a non-empty list")
    if len(specs) == 1 and not all(isinstance(i, dict) for i in instances):
        return _columns_arrays(dict.fromkeys(specs, instances), specs, "instance", nulls_are_nan)
    names = list(specs)
    columns = _columns_of_named_objects(names, instances)
    if columns is None:  # some instance is not an object of exactly the signature's inputs: name it
        for index, instance in enumerate(instances):
            if not isinstance(instance, dict):
                raise BadRequestError(
                    f"instance {index} must be an object of named inputs, got {reprlib.repr(instance)}"
                )
            _check_names(set(instance), specs, f"instance {index}")
    return _columns_arrays(dict(zip(names, columns, strict=True)), specs, "instance", nulls_are_nan)


def columns_to_arrays(
    inputs: Any, specs: dict[str, SignatureInput], nulls_are_nan: bool
) -> dict[str, np.ndarray]:
    """TF Serving's columnar format: an object of named inputs, each a list over the batch; nulls as in
    rows_to_arrays."""
    if not isinstance(inputs, dict):
        if len(specs) == 1:
            values = inputs if isinstance(inputs, list) else [inputs]
            return _columns_arrays(dict.fromkeys(specs, values), specs, "example", nulls_are_nan)
        raise BadRequestError("'inputs' must be an object of named inputs")
    _check_names(set(inputs), specs, "inputs")
    for name, values in inputs.items():
        if not isinstance(values, list):
            raise BadRequestError(f"input '{name}' must be a list of values, one per example")
    return _columns_arrays({name: inputs[name] for name in specs}, specs, "example", nulls_are_nan)


def predict(
    loaded: LoadedVersion, signature_name: str, tensors: dict[str, tf.Tensor]
) -> dict[str, np.ndarray]:
    """The model's outputs for tensors made by as_tensors."""
    try:
        outputs = loaded.signature(signature_name)(**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        raise BadRequestError(first_line(error)) from error
    return {name: value.numpy() for name, value in outputs.items()}
