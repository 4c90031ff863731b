"""The request log: one tf.train.Example per predicted instance, in rotating TFRecord files.

TFDV reads these files as they are (`tfdv.generate_statistics_from_tfrecord`), which the serving
skew check needs; TF Serving's own `PredictionLog` would do too, but it has no field for a request
id, and the id is what late labels are joined on.

Logging must never slow or fail a request. The request path only draws the sampling lot and puts
the tensors and arrays it already holds onto a queue, without waiting; one writer thread turns
them into Examples and writes them. The queue is bounded in instances, since that is what costs
memory: a bound in requests would let a few large batches hold gigabytes. A full queue, or a
write that fails (disk full, no permission, a path that is no folder), drops the records: they
are counted by reason on `RequestLog.dropped` and a warning goes to the server's log, at most
once a minute so that a full disk does not flood it. The writer flushes after each batch it
drains, so a killed server loses at most what was still queued, and leaves at most a truncated
last record, which the reader skips.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import queue
import random
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf

LOG = logging.getLogger(__name__)
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_FILE_SECONDS = 3600
QUEUE_INSTANCES = 100_000  # at a few hundred bytes an instance, some tens of MB
WARN_EVERY_SECONDS = 60
TFRECORD_FRAMING_BYTES = 16  # length, its CRC and the data's CRC around each record
QUEUE_FULL, WRITE_FAILED = "queue full", "write failed"
# A logging front marks each request it forwards with this header (gRPC: metadata) when it logs the
# request itself, or a front before it does. The server behind it answers a marked request without
# logging it: a front before a local server on the same workspace, as in docs/serving.md, would
# otherwise log every request twice, and late labels and live accuracy would count it twice.
LOGGED_KEY, LOGGED = "x-penguins-logged", "1"
_STOP = object()


def logged_before(mark: str | None) -> bool:
    """Whether a request's LOGGED_KEY header (or metadata) says a front before this server logs it."""
    return mark == LOGGED


@dataclasses.dataclass(frozen=True)
class _Request:
    request_id: str
    instances: int
    time_us: int  # unix time in microseconds: a float_list is float32, to the nearest two minutes
    version: int
    inputs: Mapping
    outputs: Mapping


def _values(value) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value)


def _column(value, instances: int) -> tuple[str, list[list]]:
    """A column's feature kind and its values instance by instance, as Python lists, which protobuf
    takes several times faster than numpy scalars: text as bytes_list, floats as float_list (NaN
    kept, the mark of a missing value), the rest as int64_list."""
    array = _values(value)
    if array.dtype.kind == "U":
        array = np.char.encode(array, "utf-8")
    if array.dtype.kind in "OS":
        kind = "bytes_list"
    elif array.dtype.kind == "f":
        kind = "float_list"
    else:
        kind, array = "int64_list", array.astype(np.int64)
    rows = array.reshape(len(array), -1).tolist() if array.ndim else [[array.item()]] * instances
    return kind, rows


def _examples(request: _Request) -> Iterator[tf.train.Example]:
    """One Example per instance: its inputs as the model received them, its outputs, and the request's id."""
    columns = {
        name: _column(value, request.instances)
        for name, value in {**request.inputs, **request.outputs}.items()
    }
    for index in range(request.instances):
        example = tf.train.Example()
        feature = example.features.feature
        for name, (kind, rows) in columns.items():
            getattr(feature[name], kind).value.extend(rows[index])
        feature["request_id"].bytes_list.value.append(request.request_id.encode())
        feature["time_us"].int64_list.value.append(request.time_us)
        feature["model_version"].int64_list.value.append(request.version)
        feature["instance"].int64_list.value.append(index)
        yield example


def _batch_size(outputs: Mapping) -> int:
    first = _values(next(iter(outputs.values()), 0))
    return len(first) if first.ndim else 1


class RequestLog:
    """Logs the predictions of `record` into `folder`, a `sample_rate` share of the requests."""

    def __init__(
        self,
        folder: Path,
        sample_rate: float = 1.0,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        max_file_seconds: float = DEFAULT_MAX_FILE_SECONDS,
        queue_instances: int = QUEUE_INSTANCES,
    ):
        if not 0 < sample_rate <= 1:
            raise ValueError(f"the sample rate must be above 0 and at most 1, got {sample_rate}")
        self.folder = folder
        self.sample_rate = sample_rate
        self._max_file_bytes = max_file_bytes
        self._max_file_seconds = max_file_seconds
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._queue_instances = queue_instances
        self._queued = 0  # instances waiting in the queue
        self._dropped: collections.Counter[str] = collections.Counter()
        self._last_warning = -math.inf
        self._file: tf.io.TFRecordWriter | None = None
        self._file_bytes = 0
        self._file_opened = 0.0
        self._files_opened = 0
        self._writer = threading.Thread(target=self._write_until_stopped, name="request-log", daemon=True)

    def start(self) -> RequestLog:
        self._writer.start()
        return self

    def record(self, request_id: str, version: int, inputs: Mapping, outputs: Mapping) -> None:
        """Queues one answered request, or counts it dropped; never blocks, never raises."""
        if self.sample_rate < 1 and random.random() >= self.sample_rate:
            return
        instances = _batch_size(outputs)
        with self._lock:
            room = self._queued + instances <= self._queue_instances
            if room:
                self._queued += instances
        if not room:
            self.drop(QUEUE_FULL, instances, f"more than {self._queue_instances} instances waiting")
            return
        self._queue.put(_Request(request_id, instances, time.time_ns() // 1000, version, inputs, outputs))

    def close(self) -> None:
        """Writes what is queued and closes the file; the servers have stopped taking requests."""
        self._queue.put(_STOP)
        self._writer.join()

    @property
    def dropped(self) -> dict[str, int]:
        """Records (instances) dropped so far, by reason."""
        with self._lock:
            return dict(self._dropped)

    def drop(self, reason: str, records: int, detail: str) -> None:
        """Counts records not logged by `reason`, with a warning in the server's log at most once a minute."""
        with self._lock:
            self._dropped[reason] += records
            total = sum(self._dropped.values())
            now = time.monotonic()
            if now - self._last_warning < WARN_EVERY_SECONDS:
                return
            self._last_warning = now
        LOG.warning(
            "request log: dropped %d record(s), %s (%s); %d dropped since start",
            records, reason, detail, total,
        )  # fmt: skip

    def _write_until_stopped(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = any(item is _STOP for item in batch)
            requests = [item for item in batch if item is not _STOP]
            with self._lock:
                self._queued -= sum(request.instances for request in requests)
            self._write(requests)
        self._close_file()

    def _write(self, batch: list[_Request]) -> None:
        """Writes and flushes a batch, rotating files between records as they fill up.

        Whatever fails drops (and counts) the whole batch, never the writer thread: a write error
        may surface only at the flush, so which of its records reached the disk is not known.
        """
        if not batch:
            return
        try:
            records = [example.SerializeToString() for request in batch for example in _examples(request)]
            for record in records:
                self._open_file().write(record)
                self._file_bytes += len(record) + TFRECORD_FRAMING_BYTES
            self._file.flush()
        except Exception as error:  # disk full, no permission, a path that is no folder: drop, go on
            self._close_file()
            detail = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
            self.drop(WRITE_FAILED, sum(request.instances for request in batch), detail)

    def _open_file(self) -> tf.io.TFRecordWriter:
        """The current file, or a new one once it holds `max_file_bytes` or is `max_file_seconds` old."""
        too_old = time.monotonic() - self._file_opened >= self._max_file_seconds
        if self._file is not None and self._file_bytes < self._max_file_bytes and not too_old:
            return self._file
        if self._file is not None:
            full, self._file = self._file, None
            full.close()  # its unflushed records are this batch's: a failure here is counted with it
        self.folder.mkdir(parents=True, exist_ok=True)
        self._files_opened += 1
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.folder / f"requests-{stamp}-{os.getpid()}-{self._files_opened}.tfrecord"
        self._file = tf.io.TFRecordWriter(str(path))
        self._file_bytes, self._file_opened = 0, time.monotonic()
        return self._file

    def _close_file(self) -> None:
        if self._file is None:
            return
        try:
            self._file.close()
        except Exception as error:  # after a failed write or at the stop; the next batch opens a new file
            LOG.warning("request log: closing a file failed: %s", error)
        self._file = None
