"""tf.Examples to Arrow RecordBatches by TensorFlow's parser: tfx-bsl's batches, four times as fast.

tfx-bsl's decoder builds a protobuf message for every tf.Example before it fills the Arrow
columns. At a million rows that was a third of Transform's time, which reads the training split
twice (3.1 s per 750,000 examples, against 0.65 s here). TensorFlow's `tf.io.parse_example`
parses the serialized records straight into each feature's values and row splits, which are
Arrow's list layout already, and the TFXIO contract is that its decoders agree with TensorFlow's
parsing ops (tfx-bsl's `schema_interpretation.md`).

The one thing the parser cannot tell is whether a row with no values lacked the feature (a null
list for tfx-bsl) or carried an empty list. Only the rows with no values for some feature are
decoded again by tfx-bsl, and its nulls are kept. Whatever this decoder does not cover (no
schema, a feature type other than INT, FLOAT or BYTES, records TensorFlow's parser refuses) goes
to tfx-bsl's decoder whole, so the batches and the errors are tfx-bsl's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.coders import example_coder

# Per schema type: the dtype TensorFlow parses it as, and the Arrow value type tfx-bsl gives it.
_TYPES = {
    schema_pb2.INT: (tf.int64, pa.int64()),
    schema_pb2.FLOAT: (tf.float32, pa.float32()),
    schema_pb2.BYTES: (tf.string, pa.large_binary()),
}

_Features = tuple[tuple[str, int], ...]


class ExampleBatchDecoder:
    """Decodes a batch of serialized tf.Examples into the RecordBatch tfx-bsl's decoder gives."""

    def __init__(self, schema: bytes | None):
        self._tfx_bsl = example_coder.ExamplesToRecordBatchDecoder(*([schema] if schema else []))
        self._features = _parsable_features(schema)
        self._parse = _parser(self._features) if self._features else None

    def decode(self, records: np.ndarray) -> pa.RecordBatch:
        if self._parse is None:
            return self._tfx_bsl.DecodeBatch(records)
        try:
            parsed = self._parse(records)
        except tf.errors.InvalidArgumentError:
            return self._tfx_bsl.DecodeBatch(records)
        row_splits = {name: parsed[name][0].numpy() for name, _ in self._features}
        nulls = self._null_rows(records, row_splits)
        columns = [
            pa.LargeListArray.from_arrays(
                _offsets(row_splits[name], nulls.get(name)), _values(kind, parsed[name][1:])
            )
            for name, kind in self._features
        ]
        return pa.RecordBatch.from_arrays(columns, [name for name, _ in self._features])

    def _null_rows(self, records: np.ndarray, row_splits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per feature, a mask of the rows where tfx-bsl gives a null list (the feature was absent)."""
        valueless = np.zeros(len(records), dtype=bool)
        for splits in row_splits.values():
            valueless |= splits[1:] == splits[:-1]
        rows = np.flatnonzero(valueless)
        if not rows.size:
            return {}
        decoded = self._tfx_bsl.DecodeBatch(records[rows])
        nulls = {}
        for name in row_splits:
            absent = rows[pc.is_null(decoded.column(decoded.schema.get_field_index(name))).to_numpy(False)]
            if absent.size:
                nulls[name] = np.zeros(len(records), dtype=bool)
                nulls[name][absent] = True
        return nulls


def _parsable_features(schema: bytes | None) -> _Features | None:
    """The schema's features and types when TensorFlow's parser covers them all, else None."""
    if not schema:
        return None
    parsed = schema_pb2.Schema.FromString(schema)
    if not parsed.feature or any(feature.type not in _TYPES for feature in parsed.feature):
        return None
    return tuple((feature.name, feature.type) for feature in parsed.feature)


@functools.lru_cache(maxsize=16)
def _parser(features: _Features) -> Callable[[np.ndarray], dict[str, tuple[tf.Tensor, ...]]]:
    """One traced function per schema: per feature, its row splits and its values' buffers."""
    spec = {name: tf.io.RaggedFeature(_TYPES[kind][0], row_splits_dtype=tf.int64) for name, kind in features}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def parse(records: tf.Tensor) -> dict[str, tuple[tf.Tensor, ...]]:
        parsed = tf.io.parse_example(records, spec)
        buffers = {}
        for name, ragged in parsed.items():
            if ragged.values.dtype == tf.string:
                # Arrow's binary layout: every value's length, then all the bytes in one buffer.
                lengths = tf.strings.length(ragged.values, unit="BYTE")
                buffers[name] = (ragged.row_splits, lengths, tf.strings.reduce_join(ragged.values))
            else:
                buffers[name] = (ragged.row_splits, ragged.values)
        return buffers

    return parse


def _offsets(row_splits: np.ndarray, nulls: np.ndarray | None) -> pa.Array:
    """The list offsets; a null offset makes its row a null list, as Arrow reads them."""
    if nulls is None:
        return pa.array(row_splits)
    return pa.array(row_splits, mask=np.append(nulls, False))


def _values(kind: int, buffers: tuple[tf.Tensor, ...]) -> pa.Array:
    value_type = _TYPES[kind][1]
    if kind != schema_pb2.BYTES:
        return pa.array(buffers[0].numpy(), type=value_type)
    lengths, joined = buffers[0].numpy(), buffers[1].numpy()
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.LargeBinaryArray.from_buffers(
        value_type, len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer(joined)]
    )
