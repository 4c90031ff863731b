"""TFX's tf.Example reader for gzip TFRecord files, reading each file a batch at a time in C++.

TFX's reader (tfx-bsl's TFExampleRecord) goes through Beam's Python TFRecord reader: a few Python
calls, a window and a timestamp for every record, then Beam's BatchElements groups the records
again before tfx-bsl decodes each batch to Arrow. At a million rows that was about two thirds of
StatisticsGen's and of Transform's time, which read the data three times between them. This
reader hands Beam one element per file, reads the file with TensorFlow's C++ record reader a
batch at a time, and decodes each batch to the same Arrow RecordBatches as tfx-bsl's decoder
(with TensorFlow's parser where it can: components/custom/example_decoding.py), a batch at a time
instead of a record at a time.

Files are handed out in name order, grouped by their index: Beam's local runner then reads them
in that order in one process, so analyzers see the data in the same order on every run, and a
runner with several workers shares the files among them.

TFX's components build their reader with `tfxio_utils.make_tfxio`, with no parameter to pass
another; `batched_reading()` swaps that function for the time an executor runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam
import pyarrow as pa
import tensorflow as tf
from tfx.components.util import tfxio_utils
from tfx_bsl.tfxio import record_based_tfxio, tensor_representation_util
from tfx_bsl.tfxio.tf_example_record import TFExampleRecord

from components.custom.example_decoding import ExampleBatchDecoder

# TFX's own cap is 1,000 records a batch, or 8,192 when it batches by bytes. A tf.Transform or
# TFMA step has a fixed cost per batch: 4,096 took Transform 29 s at 1M rows, 1,000 took 33 s.
BATCH_RECORDS = 4096
_READ_BUFFER_BYTES = 8 << 20
_GZIP_SUFFIX = ".gz"


def _record_batches(
    indexed_path: tuple[int, list[str]], schema: bytes | None, raw_record_column: str | None, batch_size: int
) -> Iterator[pa.RecordBatch]:
    _, [path] = indexed_path
    decoder = ExampleBatchDecoder(schema)
    batches = tf.data.TFRecordDataset(path, compression_type="GZIP", buffer_size=_READ_BUFFER_BYTES).batch(
        batch_size
    )
    if raw_record_column is None:
        yield from decoder.decode_batches(batches)
        return
    for batch in batches.as_numpy_iterator():
        yield record_based_tfxio.AppendRawRecordColumn(
            decoder.decode(batch), raw_record_column, batch.tolist()
        )


class BatchedTFExampleRecord(TFExampleRecord):
    """TFExampleRecord whose Beam source reads whole files in batches; everything else is TFX's.

    Given `shared_reads`, its sources for the same files and columns in one pipeline share a read.
    """

    def __init__(self, *args: Any, shared_reads: SharedReads | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._shared_reads = shared_reads

    def BeamSource(self, batch_size: int | None = None) -> beam.PTransform:  # noqa: N802 - TFXIO API
        files = _matching_files(self._file_pattern)
        schema = self._schema.SerializeToString() if self._schema is not None else None
        raw_record_column = self.raw_record_column_name
        batch_size = batch_size or BATCH_RECORDS
        # A protobuf map (the schema's tensor representations) serializes in any order.
        columns = self._schema.SerializeToString(deterministic=True) if self._schema is not None else None
        shared_reads = self._shared_reads

        @beam.ptransform_fn
        def read(begin: beam.pvalue.PBegin) -> beam.PCollection:
            def batches() -> beam.PCollection:
                return (
                    begin
                    | "Files" >> beam.Create(list(enumerate(files)), reshuffle=False)
                    # Grouping by index lets a runner with several workers share the files out,
                    # and keeps them in name order on a local runner with one.
                    | "ShareOut" >> beam.GroupByKey()
                    | "ReadBatches" >> beam.FlatMap(_record_batches, schema, raw_record_column, batch_size)
                )

            if shared_reads is None:
                return batches()
            return shared_reads.read(begin.pipeline, files, (columns, raw_record_column, batch_size), batches)

        return read()

    def _ProjectImpl(self, tensor_names: list[str]) -> BatchedTFExampleRecord:  # noqa: N802 - TFXIO API
        return BatchedTFExampleRecord(
            file_pattern=self._file_pattern,
            schema=tensor_representation_util.ProjectTensorRepresentationsInSchema(
                self._schema, tensor_names
            ),
            raw_record_column_name=self.raw_record_column_name,
            telemetry_descriptors=self.telemetry_descriptors,
            shared_reads=self._shared_reads,
        )


class SharedReads:
    """One executor's reads: a pipeline reads the same files for the same columns once.

    TFX's Transform reads the training split twice, once to analyze it and once to transform it
    (to spare some runners holding it in between, says its executor). Read once, the decoded
    batches are held by the runner between the two passes: at a million rows that took 3 s off
    Transform's 17 s, for about 80 MB held. Files over `max_bytes` (gzip) are read again, so
    what is held stays bounded.
    """

    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes
        self._reads: dict[tuple, beam.PCollection] = {}

    def read(
        self,
        pipeline: beam.Pipeline,
        files: list[str],
        columns: tuple,
        batches: Callable[[], beam.PCollection],
    ) -> beam.PCollection:
        """The batches already read from `files` for `columns` in `pipeline`, or `batches()`."""
        key = (pipeline, tuple(files), columns)
        if key not in self._reads:
            read = batches()
            if sum(tf.io.gfile.stat(path).length for path in files) > self._max_bytes:
                return read
            self._reads[key] = read
        return self._reads[key]


def _matching_files(patterns: list[str]) -> list[str]:
    return sorted(path for pattern in patterns for path in tf.io.gfile.glob(pattern))


def batched(tfxio: Any, shared_reads: SharedReads | None = None) -> Any:
    """`tfxio` read in batches when it is TFX's tf.Example reader over gzip files; else unchanged.

    Anything else (Parquet, raw records, other compressions, no file at all) keeps TFX's reader,
    and with it TFX's behaviour and errors.
    """
    if type(tfxio) is not TFExampleRecord:
        return tfxio
    files = _matching_files(tfxio._file_pattern)  # tfx-bsl keeps no public accessor
    if not files or not all(path.endswith(_GZIP_SUFFIX) for path in files):
        return tfxio
    return BatchedTFExampleRecord(
        file_pattern=tfxio._file_pattern,
        schema=tfxio._schema,
        raw_record_column_name=tfxio.raw_record_column_name,
        telemetry_descriptors=tfxio.telemetry_descriptors,
        shared_reads=shared_reads,
    )


@contextlib.contextmanager
def replaced(owner: Any, name: str, value: Any) -> Iterator[None]:
    """`owner.name` is `value` inside the block, and what it was after it, however the block ends."""
    original = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def batched_reading() -> Iterator[None]:
    """Every reader TFX makes inside the block reads in batches where `batched` allows it."""
    make_tfxio = tfxio_utils.make_tfxio

    def make_batched_tfxio(*args: Any, **kwargs: Any) -> Any:
        return batched(make_tfxio(*args, **kwargs))

    with replaced(tfxio_utils, "make_tfxio", make_batched_tfxio):
        yield
