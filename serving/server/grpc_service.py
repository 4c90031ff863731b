"""TF Serving's gRPC API: PredictionService (Predict, GetModelMetadata) and ModelService
(GetModelStatus), from the tensorflow-serving-api protos, over the same model repository."""

from __future__ import annotations

import time
from collections.abc import Mapping

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving.monitoring.metrics import GRPC, ServingMetrics
from serving.monitoring.request_log import LOGGED_KEY, RequestLog, logged_before
from serving.request_ids import REQUEST_ID_KEY, RequestIdError, request_id_or_new
from serving.server import messages
from serving.server.predict import (
    BadRequestError,
    SignatureInput,
    as_tensors,
    checked_arrays,
    first_line,
    input_specs,
    predict,
    reading_request,
)
from serving.server.repository import DEFAULT_SIGNATURE, ModelRepository, NotFoundError

SIGNATURE_DEF_FIELD = "signature_def"


def _resolve(repository: ModelRepository, model_spec, context):
    if model_spec.name != repository.model_name:
        context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: model '{model_spec.name}'")
    try:
        choice = model_spec.WhichOneof("version_choice")
        if choice == "version":
            return repository.get(version=model_spec.version.value)
        if choice == "version_label":
            return repository.get(label=model_spec.version_label)
        return repository.get()
    except NotFoundError as error:
        context.abort(grpc.StatusCode.NOT_FOUND, str(error))


def _value_count(proto) -> int:
    """How many values a TensorProto holds, in its typed field or its tensor_content bytes."""
    size = tf.as_dtype(proto.dtype).size  # 0 for strings, which have no tensor_content
    if proto.tensor_content and size:
        return len(proto.tensor_content) // size
    per_value = 2 if proto.dtype in (tf.complex64.as_datatype_enum, tf.complex128.as_datatype_enum) else 1
    return (
        sum(len(values) for field, values in proto.ListFields() if field.name.endswith("_val")) // per_value
    )


def tensor_arrays(protos) -> dict[str, np.ndarray]:
    """A request's inputs or a response's outputs, TensorProtos by name, as arrays.

    More values than the shape holds is refused by name here: TensorFlow's own message for a
    typed field ("index can't contain negative values") says neither which input nor what is wrong.
    """
    arrays = {}
    for name, proto in protos.items():
        shape = [dim.size for dim in proto.tensor_shape.dim]
        values, room = _value_count(proto), int(np.prod(shape, dtype=np.int64))
        if values > room >= 0:
            raise BadRequestError(
                f"input '{name}' does not fit its tensor_shape {shape}: the shape holds {room} "
                f"value(s), the tensor has {values}"
            )
        try:
            arrays[name] = tf.make_ndarray(proto)
        except ValueError as error:
            raise BadRequestError(
                f"input '{name}' does not fit its tensor_shape {shape}: {first_line(error)}"
            ) from None
    return arrays


def _request_tensors(inputs, specs: dict[str, SignatureInput]) -> dict[str, tf.Tensor]:
    unknown = sorted(set(inputs) - set(specs))
    missing = sorted(set(specs) - set(inputs))
    if unknown or missing:
        raise BadRequestError(
            f"unknown input(s) {unknown}, missing input(s) {missing}; the signature takes {sorted(specs)}"
        )
    for name, wanted in specs.items():
        given, expected = tf.as_dtype(inputs[name].dtype), wanted.spec.dtype
        if given != expected:
            raise BadRequestError(f"input '{name}' expects {expected.name}, got {given.name}")
    return as_tensors(checked_arrays(tensor_arrays(inputs), specs, "example"), specs)


def _request_id(metadata: dict, context) -> str:
    try:
        return request_id_or_new(metadata.get(REQUEST_ID_KEY))
    except RequestIdError as error:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{REQUEST_ID_KEY} metadata: {error}")


class LoggedPredictions(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Predict as TF Serving's gRPC API offers it, with what TF Serving lacks: each call has a request
    id (the client's x-request-id metadata, refused if it breaks the rule of serving/request_ids.py,
    else a new one), sent back in the trailing metadata, which an aborted call sends too; it is
    counted under the status it ends with, as TF Serving counts it (a server fault is UNKNOWN); and
    each answered prediction is logged and counted by class, unless a logging front before this
    server logs it (its x-penguins-logged metadata). Subclasses say how a request is answered, and
    by which version."""

    def __init__(self, request_log: RequestLog | None, metrics: ServingMetrics):
        self._request_log = request_log
        self._metrics = metrics

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        started = time.perf_counter()
        metadata = dict(context.invocation_metadata())
        try:
            request_id = _request_id(metadata, context)
            context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
            response = self._predict(request, context, request_id, logged_before(metadata.get(LOGGED_KEY)))
        except Exception:
            status = context.code() or grpc.StatusCode.UNKNOWN  # set by an abort
            self._metrics.request(request.model_spec.name, status.name, "Predict", GRPC, started)
            raise
        self._metrics.request(request.model_spec.name, "OK", "Predict", GRPC, started)
        return response

    def _predict(self, request, context, request_id: str, logged_by_front: bool):
        """The response; `logged_by_front` when a front before this server logs the request."""
        raise NotImplementedError

    def _record(
        self, request_id: str, version: int, inputs: Mapping, outputs: Mapping, logged_by_front: bool
    ) -> None:
        if self._request_log is not None and not logged_by_front:
            self._request_log.record(request_id, version, inputs, outputs)
        self._metrics.predictions(version, outputs)


class PredictionService(LoggedPredictions):
    def __init__(self, repository: ModelRepository, request_log: RequestLog | None, metrics: ServingMetrics):
        super().__init__(request_log, metrics)
        self._repository = repository

    def _predict(self, request, context, request_id: str, logged_by_front: bool):
        loaded = _resolve(self._repository, request.model_spec, context)
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        try:
            with reading_request():
                tensors = _request_tensors(request.inputs, input_specs(loaded, signature_name))
            outputs = predict(loaded, signature_name, tensors)
        except (BadRequestError, NotFoundError) as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        self._record(request_id, loaded.version, tensors, outputs, logged_by_front)
        response = predict_pb2.PredictResponse(
            model_spec=messages.model_spec(self._repository.model_name, loaded, signature_name)
        )
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802 - gRPC method name
        loaded = _resolve(self._repository, request.model_spec, context)
        unsupported = sorted(set(request.metadata_field) - {SIGNATURE_DEF_FIELD})
        if unsupported or not request.metadata_field:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"metadata_field must be ['{SIGNATURE_DEF_FIELD}'], got {list(request.metadata_field)}",
            )
        return messages.model_metadata(self._repository.model_name, loaded)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, repository: ModelRepository):
        self._repository = repository

    def GetModelStatus(self, request, context):  # noqa: N802 - gRPC method name
        spec = request.model_spec
        if spec.name != self._repository.model_name:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: model '{spec.name}'")
        try:
            version = spec.version.value if spec.HasField("version") else None
            if spec.WhichOneof("version_choice") == "version_label":
                version = self._repository.get(label=spec.version_label).version
            return messages.model_status(self._repository.status(version))
        except NotFoundError as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))


def add_servicers(
    server: grpc.Server,
    predictions: prediction_service_pb2_grpc.PredictionServiceServicer,
    models: model_service_pb2_grpc.ModelServiceServicer,
) -> None:
    """The services go onto a server already bound to its port, so a port conflict is known first."""
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(predictions, server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(models, server)
