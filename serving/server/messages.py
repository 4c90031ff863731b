"""Model status and metadata as TF Serving's own protos, for both REST (as JSON) and gRPC."""

from __future__ import annotations

from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2, status_pb2

from serving.compat import message_to_dict_with_defaults
from serving.server.repository import LoadedVersion, VersionStatus

_STATE = get_model_status_pb2.ModelVersionStatus.State


def model_status(statuses: list[VersionStatus]) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in statuses:
        response.model_version_status.add(
            version=status.version,
            state=_STATE.Value(status.state),
            status=status_pb2.StatusProto(
                error_code=error_codes_pb2.UNKNOWN if status.error else error_codes_pb2.OK,
                error_message=status.error,
            ),
        )
    return response


def model_spec(model_name: str, loaded: LoadedVersion, signature_name: str = "") -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    spec.version.value = loaded.version
    return spec


def signature_def_map(loaded: LoadedVersion) -> get_model_metadata_pb2.SignatureDefMap:
    signatures = get_model_metadata_pb2.SignatureDefMap()
    for name, signature in loaded.signature_defs.items():
        signatures.signature_def[name].CopyFrom(signature)
    return signatures


def model_metadata(model_name: str, loaded: LoadedVersion) -> get_model_metadata_pb2.GetModelMetadataResponse:
    response = get_model_metadata_pb2.GetModelMetadataResponse(model_spec=model_spec(model_name, loaded))
    response.metadata["signature_def"].Pack(signature_def_map(loaded))
    return response


def as_json(message) -> dict:
    """JSON as TF Serving's REST API renders its protos: proto field names, defaults included."""
    return message_to_dict_with_defaults(message)


def metadata_json(model_name: str, loaded: LoadedVersion) -> dict:
    return {
        "model_spec": as_json(model_spec(model_name, loaded)),
        "metadata": {"signature_def": as_json(signature_def_map(loaded))},
    }
