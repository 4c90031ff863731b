"""TensorFlow's parser gives exactly tfx-bsl's RecordBatches, nulls and errors included."""

from __future__ import annotations

import random

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx_bsl.coders import example_coder

from components.custom.example_decoding import ExampleBatchDecoder

SCHEMA = text_format.Parse(
    """
    feature { name: "island" type: BYTES }
    feature { name: "mass" type: FLOAT }
    feature { name: "count" type: INT }
    feature { name: "never_seen" type: INT }
    """,
    schema_pb2.Schema(),
)
_LISTS = {"island": "bytes_list", "mass": "float_list", "count": "int64_list", "extra": "bytes_list"}
ABSENT, PRESENT_BUT_EMPTY = object(), object()


def _example(**features) -> bytes:
    example = tf.train.Example()
    for name, values in features.items():
        if values is ABSENT:
            continue
        feature = example.features.feature[name]
        if values is PRESENT_BUT_EMPTY:
            feature.SetInParent()  # the feature is there with no value list at all
        else:
            getattr(feature, _LISTS[name]).value.extend(values)
    return example.SerializeToString()


def _both(records: list[bytes], schema: schema_pb2.Schema | None = SCHEMA):
    serialized = schema.SerializeToString() if schema else None
    batch = np.array(records, dtype=object)
    tfx_bsl = example_coder.ExamplesToRecordBatchDecoder(*([serialized] if serialized else []))
    return ExampleBatchDecoder(serialized).decode(batch), tfx_bsl.DecodeBatch(batch)


def test_every_kind_of_value_and_of_missing_value_decodes_as_tfx_bsl_decodes_it():
    records = [
        _example(island=[b"Biscoe"], mass=[3750.5], count=[3]),
        _example(),  # nothing at all: null lists
        _example(island=[], mass=[], count=[]),  # empty value lists: empty lists, not nulls
        _example(island=PRESENT_BUT_EMPTY, mass=PRESENT_BUT_EMPTY, count=PRESENT_BUT_EMPTY),
        _example(
            island=[b"", b"nul\x00byte", "Torgersen é".encode(), b"\xff\xfe"],
            mass=[1, 2.5],
            count=[-1, 2**40],
        ),
        _example(island=[b"Dream"], extra=[b"a feature the schema does not name"]),
    ]
    ours, theirs = _both(records)
    assert ours.equals(theirs), (ours.to_pydict(), theirs.to_pydict())
    assert ours.schema == theirs.schema
    assert ours.column(0).to_pylist()[1:4] == [None, [], None]


def test_a_larger_random_batch_decodes_as_tfx_bsl_decodes_it():
    pick = random.Random(7)

    def values(make):
        return pick.choice([ABSENT, PRESENT_BUT_EMPTY, [], [make() for _ in range(pick.randint(1, 3))]])

    records = [
        _example(
            island=values(lambda: pick.choice([b"Biscoe", b"Dream", b"Torgersen"])),
            mass=values(lambda: pick.uniform(2000, 7000)),
            count=values(lambda: pick.randint(-(2**62), 2**62)),
        )
        for _ in range(5000)
    ]
    ours, theirs = _both(records)
    assert ours.equals(theirs)


def test_a_value_of_the_wrong_type_gets_tfx_bsls_own_error():
    records = [_example(island=[b"Biscoe"]), _example(mass=[1.0]), _example(count=[1])]
    wrong = tf.train.Example()
    wrong.features.feature["mass"].int64_list.value.append(4000)
    records.append(wrong.SerializeToString())
    batch = np.array(records, dtype=object)
    with pytest.raises(Exception) as theirs:
        example_coder.ExamplesToRecordBatchDecoder(SCHEMA.SerializeToString()).DecodeBatch(batch)
    with pytest.raises(type(theirs.value)) as ours:
        ExampleBatchDecoder(SCHEMA.SerializeToString()).decode(batch)
    assert str(ours.value) == str(theirs.value)
    assert "mass" in str(ours.value)


def test_without_a_schema_tfx_bsl_decodes():
    records = [_example(island=[b"Biscoe"], mass=[1.5]), _example(count=[2])]
    ours, theirs = _both(records, schema=None)
    assert ours.equals(theirs)


def test_a_schema_tfx_bsl_refuses_is_refused_with_its_error():
    schema = text_format.Parse(
        'feature { name: "nested" type: STRUCT }', schema_pb2.Schema()
    ).SerializeToString()
    with pytest.raises(RuntimeError) as theirs:
        example_coder.ExamplesToRecordBatchDecoder(schema)
    with pytest.raises(RuntimeError) as ours:
        ExampleBatchDecoder(schema)
    assert str(ours.value) == str(theirs.value)
