"""Reads the request log back, file by file in the order they were started.

A server killed mid-write leaves a truncated last record in the file it was writing, and the
file being written now may end mid-record too. TensorFlow's TFRecord reader raises DataLossError
there; the reader takes that as the end of the file and goes on with the next one, so a crash
never makes the log unreadable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf

LOG = logging.getLogger(__name__)
_FILE_NAME = re.compile(r"^requests-(?P<stamp>\d{8}T\d{6})-(?P<pid>\d+)-(?P<seq>\d+)\.tfrecord$")


def _start(path: Path) -> tuple[str, int, int]:
    name = _FILE_NAME.match(path.name)
    return name["stamp"], int(name["pid"]), int(name["seq"])


def log_files(folder: Path) -> list[Path]:
    """The log files in `folder`, oldest first: by start time, then process, then sequence number."""
    return sorted((p for p in folder.glob("requests-*.tfrecord") if _FILE_NAME.match(p.name)), key=_start)


def read_examples(folder: Path) -> Iterator[tf.train.Example]:
    """Every logged instance in `folder`, skipping a truncated last record of any file."""
    for path in log_files(folder):
        try:
            for record in tf.data.TFRecordDataset(str(path)):
                yield tf.train.Example.FromString(record.numpy())
        except tf.errors.DataLossError:
            LOG.warning("%s ends in a truncated record (a crash mid-write); read up to it", path)


def read_columns(folder: Path, features: dict, batch_size: int = 10_000) -> Iterator[dict]:
    """The log's `features` (a tf.io.parse_example spec) in batches of columns, as numpy arrays.

    TensorFlow parses a batch at once, many times faster than Example by Example, which matters
    for a million logged requests. A file with a truncated last record is read again record by
    record from where its batches stopped, so only that record is lost.
    """
    for path in log_files(folder):
        done = 0
        try:
            batches = tf.data.TFRecordDataset(str(path)).batch(batch_size)
            for batch in batches.map(lambda records: tf.io.parse_example(records, features)):
                columns = {name: values.numpy() for name, values in batch.items()}
                done += len(next(iter(columns.values())))
                yield columns
        except tf.errors.DataLossError:
            records = []
            try:
                records.extend(record for record in tf.data.TFRecordDataset(str(path)).skip(done))
            except tf.errors.DataLossError:
                LOG.warning("%s ends in a truncated record (a crash mid-write); read up to it", path)
            if records:
                parsed = tf.io.parse_example(tf.stack(records), features)
                yield {name: values.numpy() for name, values in parsed.items()}


def as_dict(example: tf.train.Example) -> dict[str, list]:
    """An Example's features as lists of their values (bytes stay bytes)."""
    values = {}
    for name, feature in example.features.feature.items():
        kind = feature.WhichOneof("kind")
        values[name] = list(getattr(feature, kind).value) if kind else []
    return values
