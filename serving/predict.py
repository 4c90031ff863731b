"""Prediction with TF Serving's request semantics, shared by the REST and gRPC front ends.

Requests are checked against the signature before TensorFlow sees them, so that an unknown
input, a missing one or a value of the wrong type gets a message that names it, as TF Serving's
own errors do, instead of a stack trace from inside a graph.
"""

from __future__ import annotations

import base64
import numbers
from typing import Any

import numpy as np
import tensorflow as tf

from serving.repository import LoadedVersion


class BadRequestError(ValueError):
    """The request does not fit the signature; REST answers 400, gRPC INVALID_ARGUMENT."""


def input_specs(loaded: LoadedVersion, signature_name: str) -> dict[str, tf.TensorSpec]:
    return dict(loaded.signature(signature_name).structured_input_signature[1])


def _check_value(name: str, spec: tf.TensorSpec, value: Any, where: str) -> Any:
    if spec.dtype == tf.string:
        if isinstance(value, dict) and set(value) == {"b64"}:
            return base64.b64decode(value["b64"])
        if isinstance(value, str):
            return value.encode()
        if isinstance(value, bytes):
            return value
        raise BadRequestError(f"{where}: input '{name}' expects a string (DT_STRING), got {value!r}")
    if spec.dtype.is_floating or spec.dtype.is_integer:
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            return value
        raise BadRequestError(f"{where}: input '{name}' expects a number ({spec.dtype.name}), got {value!r}")
    if spec.dtype == tf.bool and isinstance(value, bool):
        return value
    raise BadRequestError(f"{where}: input '{name}' has unsupported type {spec.dtype.name}")


def _fast_array(spec: tf.TensorSpec, values: list) -> np.ndarray | None:
    """The common case, flat values all of the expected kind, without a per-value Python call."""
    if spec.dtype == tf.string:
        return np.array(values, dtype=object) if all(type(v) is str for v in values) else None
    numeric = spec.dtype.is_floating or spec.dtype.is_integer
    if numeric and all(type(v) is float or type(v) is int for v in values):
        return np.asarray(values, dtype=spec.dtype.as_numpy_dtype)
    return None


def _column_tensor(name: str, spec: tf.TensorSpec, values: list, where: str) -> tf.Tensor:
    array = _fast_array(spec, values)
    if array is None:

        def check(value, index):
            if isinstance(value, list):
                return [check(item, index) for item in value]
            return _check_value(name, spec, value, f"{where} {index}")

        checked = [check(value, index) for index, value in enumerate(values)]
        array = np.array(checked, dtype=object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype)
    if not spec.shape.is_compatible_with(array.shape):
        raise BadRequestError(
            f"input '{name}' has shape {list(array.shape)}, the signature expects "
            f"{[d if d is not None else -1 for d in spec.shape.as_list()]}"
        )
    return tf.constant(array, dtype=spec.dtype)


def _check_names(given: set[str], specs: dict[str, tf.TensorSpec], where: str) -> None:
    unknown = sorted(given - set(specs))
    if unknown:
        raise BadRequestError(f"{where}: unknown input(s) {unknown}; the signature takes {sorted(specs)}")
    missing = sorted(set(specs) - given)
    if missing:
        raise BadRequestError(f"{where}: missing input(s) {missing}; the signature takes {sorted(specs)}")


def rows_to_tensors(instances: Any, specs: dict[str, tf.TensorSpec]) -> dict[str, tf.Tensor]:
    """TF Serving's row format: a list of instances, each an object of named inputs."""
    if not isinstance(instances, list) or not instances:
        raise BadRequestError("'instances' must be a non-empty list")
    if len(specs) == 1 and not all(isinstance(i, dict) for i in instances):
        ((name, spec),) = specs.items()
        return {name: _column_tensor(name, spec, instances, "instance")}
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise BadRequestError(f"instance {index} must be an object of named inputs, got {instance!r}")
        _check_names(set(instance), specs, f"instance {index}")
    return {
        name: _column_tensor(name, spec, [instance[name] for instance in instances], "instance")
        for name, spec in specs.items()
    }


def columns_to_tensors(inputs: Any, specs: dict[str, tf.TensorSpec]) -> dict[str, tf.Tensor]:
    """TF Serving's columnar format: an object of named inputs, each a list over the batch."""
    if not isinstance(inputs, dict):
        if len(specs) == 1:
            ((name, spec),) = specs.items()
            return {
                name: _column_tensor(name, spec, inputs if isinstance(inputs, list) else [inputs], "value")
            }
        raise BadRequestError("'inputs' must be an object of named inputs")
    _check_names(set(inputs), specs, "inputs")
    for name, values in inputs.items():
        if not isinstance(values, list):
            raise BadRequestError(f"input '{name}' must be a list of values, one per example")
    return {name: _column_tensor(name, spec, inputs[name], "value") for name, spec in specs.items()}


def predict(
    loaded: LoadedVersion, signature_name: str, tensors: dict[str, tf.Tensor]
) -> dict[str, np.ndarray]:
    try:
        outputs = loaded.signature(signature_name)(**tensors)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as error:
        raise BadRequestError(str(error).splitlines()[0]) from error
    return {name: value.numpy() for name, value in outputs.items()}


def to_json_value(array: np.ndarray) -> Any:
    """Strings decoded as TF Serving does for DT_STRING outputs; numbers stay numpy for orjson."""
    if array.dtype == object:
        return np.char.decode(array.astype(np.bytes_), "utf-8", "replace").tolist()
    return array


def outputs_as_rows(outputs: dict[str, np.ndarray]) -> list:
    if len(outputs) == 1:
        return to_json_value(next(iter(outputs.values())))
    columns = {name: to_json_value(value) for name, value in outputs.items()}
    batch = len(next(iter(columns.values())))
    return [{name: column[row] for name, column in columns.items()} for row in range(batch)]


def outputs_as_columns(outputs: dict[str, np.ndarray]) -> Any:
    if len(outputs) == 1:
        return to_json_value(next(iter(outputs.values())))
    return {name: to_json_value(value) for name, value in outputs.items()}
