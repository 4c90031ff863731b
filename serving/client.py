"""A small prediction client for TF Serving and the local server, over REST or gRPC.

    from serving.client import PredictionClient
    with PredictionClient("http://127.0.0.1:8501") as client:
        print(client.predict([{"island": "Biscoe", "bill_length_mm": 46.1, ...}]))

Instances hold one value per feature: a missing categorical value is "" and a missing
measurement is NaN. The REST path needs only httpx; gRPC imports TensorFlow for its protos.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import httpx

from serving.addresses import DEFAULT_URLS, grpc_target, rest_url
from serving.request_ids import REQUEST_ID_KEY, checked_request_id

PROBABILITIES, CLASSES = "probabilities", "classes"
PROTOCOLS = ("rest", "grpc")


class PredictionError(RuntimeError):
    """No server answered, the server refused the request, or its answer is not a prediction.

    The message is one line saying which, with the server's own message when it refused.
    """


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One example's answer. `request_id` is the id of the request it came in, shared by the examples
    of one call: the one given, or the server's own; None from a server that returns none (TF Serving)."""

    label: str
    probabilities: dict[str, float]
    request_id: str | None = None


def _predictions(outputs: dict[str, list], request_id: str | None) -> list[Prediction]:
    """Columns of outputs -> one Prediction per example; the label column is the other string output."""
    (label_key,) = set(outputs) - {PROBABILITIES, CLASSES}
    return [
        Prediction(label, dict(zip(classes, map(float, probabilities), strict=True)), request_id)
        for label, classes, probabilities in zip(
            outputs[label_key], outputs[CLASSES], outputs[PROBABILITIES], strict=True
        )
    ]


def _reason(error: Exception) -> str:
    """'[Errno 111] Connection refused' -> 'connection refused'; the error's type if it says nothing."""
    text = str(error).split("] ", 1)[-1]
    return text[:1].lower() + text[1:] or type(error).__name__


class PredictionClient:
    def __init__(
        self, url: str | None = None, protocol: str = "rest", model: str = "penguins", timeout: float = 30
    ):
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.protocol, self.model = protocol, model
        address = url or DEFAULT_URLS[protocol]
        self.url = rest_url(address) if protocol == "rest" else grpc_target(address)
        self._timeout = timeout
        if protocol == "rest":
            self._http = httpx.Client(base_url=self.url, timeout=timeout)
        else:
            import grpc
            from tensorflow_serving.apis import prediction_service_pb2_grpc

            self._channel = grpc.insecure_channel(self.url)
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def __enter__(self) -> PredictionClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.protocol == "rest":
            self._http.close()
        else:
            self._channel.close()

    def predict(
        self, instances: list[dict[str, Any]], version: int | None = None, request_id: str | None = None
    ) -> list[Prediction]:
        """The predictions for `instances`, sent as one request with `request_id` if given.

        Raises ValueError for a request id that a header or gRPC metadata cannot carry as it is.
        """
        if request_id is not None:
            checked_request_id(request_id)
        if not instances:
            return []
        outputs, request_id = (self._predict_rest(instances, version, request_id) if self.protocol == "rest"
                               else self._predict_grpc(instances, version, request_id))  # fmt: skip
        try:
            return _predictions(outputs, request_id)
        except (ValueError, KeyError, TypeError):
            raise PredictionError(
                f"the answer from {self.url} is not a classifier's: outputs {sorted(outputs)}, expected "
                f"'{PROBABILITIES}', '{CLASSES}' and a label"
            ) from None

    def _predict_rest(self, instances, version, request_id) -> tuple[dict[str, list], str | None]:
        path = f"/v1/models/{self.model}" + (f"/versions/{version}" if version else "") + ":predict"
        # Columnar format: one list per input, which is also how the answer comes back.
        # Missing measurements travel as NaN, which TF Serving's JSON parser accepts.
        columns = {name: [i[name] for i in instances] for name in instances[0]}
        body = json.dumps({"inputs": columns}, allow_nan=True)
        try:
            headers = {
                "Content-Type": "application/json",
                **({REQUEST_ID_KEY: request_id} if request_id else {}),
            }
            response = self._http.post(path, content=body, headers=headers)
        except httpx.ConnectError as error:
            raise PredictionError(
                f"no server answers at {self.url} ({_reason(error)}); start one with `penguins serve`"
            ) from None
        except httpx.TimeoutException:
            raise PredictionError(
                f"the server at {self.url} did not answer within {self._timeout:g} s"
            ) from None
        except httpx.HTTPError as error:
            raise PredictionError(
                f"what answers at {self.url} is no REST server ({_reason(error)}); "
                f"is that the gRPC port? REST is on {DEFAULT_URLS['rest']} by default"
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise PredictionError(
                f"the server at {self.url} answered {response.status_code} with no TF Serving JSON; "
                "is it a TF Serving REST endpoint?"
            )
        if response.status_code != 200:
            raise PredictionError(
                f"the server refused the request ({response.status_code}): {payload.get('error', payload)}"
            )
        return payload.get("outputs", {}), response.headers.get(REQUEST_ID_KEY)

    def _predict_grpc(self, instances, version, request_id) -> tuple[dict[str, list], str | None]:
        import grpc
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model
        if version:
            request.model_spec.version.value = version
        for name in instances[0]:
            values = [i[name] for i in instances]
            dtype = tf.string if isinstance(values[0], str) else tf.float32
            request.inputs[name].CopyFrom(tf.make_tensor_proto(values, dtype=dtype))
        try:
            response, call = self._stub.Predict.with_call(
                request,
                timeout=self._timeout,
                metadata=[(REQUEST_ID_KEY, request_id)] if request_id else None,
            )
        except grpc.RpcError as error:
            # A server that answers sends trailing metadata; a logging front whose upstream is down
            # answers UNAVAILABLE itself, naming that upstream, which is then the message.
            answered = bool(error.trailing_metadata())
            if error.code() == grpc.StatusCode.UNAVAILABLE and answered:
                raise PredictionError(
                    f"the server at {self.url} answered UNAVAILABLE: {error.details()}"
                ) from None
            if error.code() == grpc.StatusCode.UNAVAILABLE:
                raise PredictionError(
                    f"no gRPC server answers at {self.url} ({error.details()}); start one with "
                    f"`penguins serve`, or check the address: gRPC is on {DEFAULT_URLS['grpc']} by default"
                ) from None
            raise PredictionError(
                f"the server refused the request ({error.code().name}): {error.details()}"
            ) from None
        outputs = {name: _plain(tf.make_ndarray(proto)) for name, proto in response.outputs.items()}
        return outputs, dict(call.trailing_metadata() or ()).get(REQUEST_ID_KEY)


def _plain(array) -> list:
    """Nested lists, with strings decoded, as the REST API returns them."""
    if array.dtype == object:
        return [_plain(row) if getattr(row, "ndim", 0) else row.decode() for row in array]
    return array.tolist()
