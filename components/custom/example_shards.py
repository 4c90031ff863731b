"""TFX's hash split, shuffle and write, done on lists of serialized examples instead of single ones.

TFX's ExampleGen sends every example through Beam on its own, and its shuffle (a Reshuffle of a
million small elements) is held whole in memory by Beam's local runner. Here each example goes to
its split by TFX's own partition function and to a shard picked by a checksum of its bytes; a
shard's examples travel as one compressed string through one grouping, and are shuffled and
written where, and as, TFX's WriteSplit writes them.

The shuffle is a fixed function of the data: the same examples always land in the same order,
however Beam ordered the work. The Trainer's order, and so the trained model, then depends only
on the data and the config, so a re-run with nothing changed trains the same model, which the
Pusher recognises and does not push again.
"""

from __future__ import annotations

import collections
import itertools
import os
import random
import struct
import zlib
from collections.abc import Iterable

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx.components.example_gen import write_split
from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
from tfx.proto import example_gen_pb2

from components.custom.record_files import GZIP_RECORDS


def _pack(examples: list[bytes]) -> bytes:
    """Serialized examples as one compressed string: count, lengths, then the examples."""
    lengths = np.fromiter(map(len, examples), dtype="<u4", count=len(examples))
    return zlib.compress(struct.pack("<I", len(examples)) + lengths.tobytes() + b"".join(examples), 1)


def _unpack(packed: bytes) -> list[bytes]:
    data = zlib.decompress(packed)
    (count,) = struct.unpack_from("<I", data)
    lengths = np.frombuffer(data, dtype="<u4", count=count, offset=4)
    ends = (4 + 4 * count + np.cumsum(lengths, dtype=np.int64)).tolist()
    return [data[start:end] for start, end in zip([4 + 4 * count, *ends[:-1]], ends, strict=True)]


class HashSplit:
    """The split an example goes to: TFX's hash partition of its serialized bytes, an index into the splits.

    Shared by the executor and by the check, before a run, that no split is left without examples.
    """

    def __init__(self, split_config: example_gen_pb2.SplitConfig):
        self._split_config = split_config
        self._buckets = list(itertools.accumulate(split.hash_buckets for split in split_config.splits))

    def __call__(self, example: bytes) -> int:
        # _PartitionFn is what TFX's GenerateExamplesByBeam partitions with (TFX 1.16 to 1.21).
        return _PartitionFn(example, len(self._buckets), self._buckets, self._split_config)


class ToShards(beam.DoFn):
    """Sends each example of a list to its split, by TFX's hash partition, and to a shard.

    Shuffling whole shards rather than single examples keeps TFX's shuffle without a million
    small elements in the runner, and packing them compressed keeps what the shuffle holds small
    (Beam's local runner holds all of it in memory).
    """

    def __init__(self, split_config: example_gen_pb2.SplitConfig, shards: int):
        self._split_of = HashSplit(split_config)
        self._shards = shards

    def process(self, examples: list[bytes]) -> Iterable[tuple[tuple[int, int], bytes]]:
        groups = collections.defaultdict(list)
        for example in examples:
            groups[self._split_of(example), zlib.crc32(example) % self._shards].append(example)
        for key, group in groups.items():
            yield key, _pack(group)


def write_shard(shard: tuple[tuple[int, int], Iterable[bytes]], uris: list[str], shards: int) -> None:
    """Writes one shard of a split, its examples shuffled, where TFX's WriteSplit writes them.

    The examples arrive in whatever order the workers finished; sorting them first makes the
    seeded shuffle's result depend on the examples alone.
    """
    (split, index), packs = shard
    examples = sorted(example for packed in packs for example in _unpack(packed))
    random.Random(f"{split}/{index}").shuffle(examples)
    path = os.path.join(
        uris[split], f"{write_split.DEFAULT_TF_RECORD_FILE_NAME}-{index:05d}-of-{shards:05d}.gz"
    )
    with tf.io.TFRecordWriter(path, options=GZIP_RECORDS) as writer:
        for example in examples:
            writer.write(example)
