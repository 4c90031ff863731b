"""TF Serving's gRPC API: PredictionService (Predict, GetModelMetadata) and ModelService
(GetModelStatus), from the tensorflow-serving-api protos, over the same model repository."""

from __future__ import annotations

from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import (
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import messages
from serving.predict import BadRequestError, input_specs, predict
from serving.repository import DEFAULT_SIGNATURE, ModelRepository, NotFoundError

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


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, repository: ModelRepository):
        self._repository = repository

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        loaded = _resolve(self._repository, request.model_spec, context)
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        try:
            specs = input_specs(loaded, signature_name)
            unknown = sorted(set(request.inputs) - set(specs))
            missing = sorted(set(specs) - set(request.inputs))
            if unknown or missing:
                raise BadRequestError(
                    f"unknown input(s) {unknown}, missing input(s) {missing}; "
                    f"the signature takes {sorted(specs)}"
                )
            tensors = {}
            for name, spec in specs.items():
                given = tf.as_dtype(request.inputs[name].dtype)
                if given != spec.dtype:
                    raise BadRequestError(f"input '{name}' expects {spec.dtype.name}, got {given.name}")
                tensors[name] = tf.constant(tf.make_ndarray(request.inputs[name]), dtype=spec.dtype)
            outputs = predict(loaded, signature_name, tensors)
        except (BadRequestError, NotFoundError) as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
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


def build_grpc_server(repository: ModelRepository, address: str, workers: int = 8) -> grpc.Server:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(repository), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(repository), server)
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot bind the gRPC server to {address}")
    return server
