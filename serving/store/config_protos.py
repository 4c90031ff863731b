"""Parsers for the TF Serving config files the compose service reads.

`models.config` is parsed with ModelServerConfig from tensorflow-serving-api. That package does
not ship MonitoringConfig or BatchingParameters, so their messages are declared here with every
field of TF Serving 2.16.1's own (monitoring_config.proto and session_bundle_config.proto): the
same package, names, numbers and types. A config that parses here has the fields TF Serving
expects, though TF Serving's own parser remains the final word.
"""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, text_format, wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving.compat import message_class

_F = descriptor_pb2.FieldDescriptorProto
_FILE_NAME = "penguins_tf_serving_mirror.proto"


def _field(name: str, number: int, kind: int, type_name: str | None = None, repeated: bool = False) -> _F:
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    field = _F(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = type_name
    return field


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    mirror = descriptor_pb2.FileDescriptorProto(
        name=_FILE_NAME, package="tensorflow.serving", syntax="proto3", dependency=[wrappers.name]
    )
    mirror.message_type.add(
        name="PrometheusConfig",
        field=[_field("enable", 1, _F.TYPE_BOOL), _field("path", 2, _F.TYPE_STRING)],
    )
    mirror.message_type.add(
        name="MonitoringConfig",
        field=[_field("prometheus_config", 1, _F.TYPE_MESSAGE, ".tensorflow.serving.PrometheusConfig")],
    )
    int64, string, boolean = (
        ".google.protobuf.Int64Value",
        ".google.protobuf.StringValue",
        ".google.protobuf.BoolValue",
    )
    mirror.message_type.add(
        name="BatchingParameters",
        field=[
            _field("max_batch_size", 1, _F.TYPE_MESSAGE, int64),
            _field("batch_timeout_micros", 2, _F.TYPE_MESSAGE, int64),
            _field("max_enqueued_batches", 3, _F.TYPE_MESSAGE, int64),
            _field("num_batch_threads", 4, _F.TYPE_MESSAGE, int64),
            _field("thread_pool_name", 5, _F.TYPE_MESSAGE, string),
            _field("allowed_batch_sizes", 6, _F.TYPE_INT64, repeated=True),
            _field("pad_variable_length_inputs", 7, _F.TYPE_BOOL),
            _field("enable_large_batch_splitting", 8, _F.TYPE_MESSAGE, boolean),
            _field("max_execution_batch_size", 9, _F.TYPE_MESSAGE, int64),
        ],
    )
    pool.Add(mirror)
    return pool


_POOL = _build_pool()


def _message_class(name: str):
    return message_class(_POOL.FindMessageTypeByName(f"tensorflow.serving.{name}"))


MonitoringConfig = _message_class("MonitoringConfig")
BatchingParameters = _message_class("BatchingParameters")


def parse_model_server_config(path: Path) -> model_server_config_pb2.ModelServerConfig:
    return text_format.Parse(path.read_text(), model_server_config_pb2.ModelServerConfig())


def parse_monitoring_config(path: Path):
    return text_format.Parse(path.read_text(), MonitoringConfig())


def parse_batching_parameters(path: Path):
    return text_format.Parse(path.read_text(), BatchingParameters())
