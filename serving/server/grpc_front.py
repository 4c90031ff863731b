"""`penguins serve --upstream URL --upstream-grpc HOST:PORT`: TF Serving's gRPC API in front of a TF
Serving's gRPC port, with the request log, request ids and metrics of the local gRPC server.

Predict goes on to the upstream as it came, with the request's id in its x-request-id metadata
(and x-penguins-logged when this front, or one before it, logs the request: a local server behind
it then does not log it again), and the upstream's response comes back unchanged, the id in the
trailing metadata. Unlike REST, the response names the version that answered
(`model_spec.version`), so it is logged with that version as it is; a response that names none is
passed on and counted as dropped (`version unknown`). GetModelMetadata and GetModelStatus are
passed through, unlogged and uncounted as in the local server; TF Serving's other methods
(Classify, Regress, MultiInference, model reloads) are not offered and answer UNIMPLEMENTED. An
upstream error comes back with its own status code and message; an upstream that cannot be reached
is UNAVAILABLE and one that does not answer in time DEADLINE_EXCEEDED, each naming the upstream.
"""

from __future__ import annotations

import grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.monitoring.metrics import ServingMetrics
from serving.monitoring.request_log import LOGGED, LOGGED_KEY, RequestLog
from serving.request_ids import REQUEST_ID_KEY
from serving.server.front import UPSTREAM_TIMEOUT_SECONDS, VERSION_UNKNOWN
from serving.server.grpc_service import LoggedPredictions, tensor_arrays
from serving.server.predict import BadRequestError

_UPSTREAM_FAULTS = {
    grpc.StatusCode.UNAVAILABLE: "cannot be reached ({details}); is it running?",
    grpc.StatusCode.DEADLINE_EXCEEDED: f"did not answer within {UPSTREAM_TIMEOUT_SECONDS} s ({{details}})",
}


class UpstreamGrpc:
    """The upstream TF Serving's gRPC API; its errors abort the caller's call with their own status."""

    def __init__(self, target: str):
        self.target = target
        self._channel = grpc.insecure_channel(target)
        self.predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self.models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def call(self, method, request, context, request_id: str | None = None, logged: bool = False):
        """`logged`: the request is logged on this side, and the upstream is told so."""
        metadata = ((REQUEST_ID_KEY, request_id),) if request_id else ()
        metadata += ((LOGGED_KEY, LOGGED),) if logged else ()
        try:
            return method(request, metadata=metadata or None, timeout=UPSTREAM_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            code, details = error.code(), error.details()
            if code in _UPSTREAM_FAULTS:
                fault = _UPSTREAM_FAULTS[code].format(details=details)
                details = f"the upstream TF Serving at {self.target} {fault}"
            context.abort(code, details)


class FrontPredictionService(LoggedPredictions):
    def __init__(self, upstream: UpstreamGrpc, request_log: RequestLog | None, metrics: ServingMetrics):
        super().__init__(request_log, metrics)
        self._upstream = upstream

    def _predict(self, request, context, request_id: str, logged_by_front: bool):
        logged = logged_by_front or self._request_log is not None
        response = self._upstream.call(
            self._upstream.predictions.Predict, request, context, request_id, logged
        )
        try:
            inputs, outputs = tensor_arrays(request.inputs), tensor_arrays(response.outputs)
        except BadRequestError:
            return response  # what the front cannot read it cannot log; the client still gets its answer
        if not response.model_spec.HasField("version"):
            if self._request_log is not None and not logged_by_front and outputs:
                instances = len(next(iter(outputs.values())))
                self._request_log.drop(VERSION_UNKNOWN, instances, "the upstream's response names no version")
            return response
        self._record(request_id, response.model_spec.version.value, inputs, outputs, logged_by_front)
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802 - gRPC method name
        return self._upstream.call(self._upstream.predictions.GetModelMetadata, request, context)


class FrontModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, upstream: UpstreamGrpc):
        self._upstream = upstream

    def GetModelStatus(self, request, context):  # noqa: N802 - gRPC method name
        return self._upstream.call(self._upstream.models.GetModelStatus, request, context)
