"""`penguins serve --upstream URL`: TF Serving's REST API in front of a TF Serving, adding what TF
Serving cannot do itself: the request log, request ids and the project's metrics.

Every request goes on to the upstream as it came, and its answer comes back unchanged, status and
body, with the request's id added in the X-Request-Id header. A predict request is logged with the
version that answered. TF Serving's REST answer does not name that version, so the front asks the
upstream which version a request for the model (or its label) would get, the newest available one
as TF Serving chooses it, and sends the request to that version by number. The answer then comes
from the version logged, always. The choice is remembered for `poll_seconds`, so that a new
version is taken up that long after the upstream loads it; a remembered version that the upstream
has since unloaded answers 404, and the request is sent once more to the version chosen anew.
An upstream whose model status names no available version has its request sent on as it came;
its answer cannot be logged with a version, and is counted as dropped (`version unknown`).
A predict request that the front logs (or a front before it does) goes on marked X-Penguins-Logged,
so that a local `penguins serve` behind it does not log it a second time.

An upstream that cannot be reached is answered 503, one that does not answer in time 504, and
one whose answer is not an HTTP answer 502, each in TF Serving's error shape and naming the
upstream. The gRPC API is fronted beside it, with --upstream-grpc (serving/server/grpc_front.py).
"""

from __future__ import annotations

import contextlib
import time

import httpx
import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from serving.monitoring.metrics import ServingMetrics
from serving.monitoring.request_log import LOGGED, LOGGED_KEY, RequestLog, logged_before
from serving.request_ids import REQUEST_ID_KEY, RequestIdError, request_id_or_new
from serving.server.predict import BadRequestError
from serving.server.request_json import parse_body
from serving.server.rest import (
    MODEL_PATH,
    BodyTooLargeError,
    counted_app,
    error_response,
    read_body,
)

UPSTREAM_TIMEOUT_SECONDS = 30
VERSION_UNKNOWN = "version unknown"  # a reason for dropped log records
# What the upstream's answer may carry on to the client; hop-by-hop and length headers are the front's own.
_PASSED_HEADERS = ("content-type",)


class UpstreamError(Exception):
    """The upstream gave no HTTP answer; `status` is what the client is answered instead."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _numbers_or_text(values: list) -> np.ndarray | None:
    """A logged column: numbers as float32 (as the model takes them), text as bytes; else None."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float32)
    if all(isinstance(v, str) for v in values):
        return np.asarray([v.encode() for v in values], dtype=object)
    return None


def _columns(payload: object, rows_key: str, columns_key: str) -> dict[str, list]:
    """A request's inputs or an answer's outputs as columns, from TF Serving's row or column format."""
    if not isinstance(payload, dict):
        return {}
    rows = payload.get(rows_key)
    if isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows):
        return {name: [row.get(name) for row in rows] for name in rows[0]}
    columns = payload.get(columns_key)
    return (
        {name: v for name, v in columns.items() if isinstance(v, list)} if isinstance(columns, dict) else {}
    )


def _logged_inputs(body: object) -> dict[str, np.ndarray]:
    """The inputs that read as columns of numbers or text; what does not (b64 values) is left out."""
    columns = {
        name: _numbers_or_text(values) for name, values in _columns(body, "instances", "inputs").items()
    }
    return {name: column for name, column in columns.items() if column is not None}


def _logged_outputs(answer: object) -> dict[str, np.ndarray]:
    outputs = {}
    for name, values in _columns(answer, "predictions", "outputs").items():
        array = np.asarray(values)
        outputs[name] = np.char.encode(array, "utf-8") if array.dtype.kind == "U" else array
    return outputs


class Upstream:
    """The upstream TF Serving's REST API, and which version of a model it answers with."""

    def __init__(self, url: str, poll_seconds: float):
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, timeout=UPSTREAM_TIMEOUT_SECONDS)
        self._poll_seconds = poll_seconds
        self._versions: dict[str, tuple[float, int | None]] = {}  # status path -> (when, version)

    async def close(self) -> None:
        await self._http.aclose()

    async def send(
        self, method: str, path: str, body: bytes, request_id: str, logged: bool = False
    ) -> httpx.Response:
        """The upstream's answer; `logged`: the request is logged on this side, which the upstream is told."""
        headers = {REQUEST_ID_KEY: request_id, **({LOGGED_KEY: LOGGED} if logged else {})}
        try:
            return await self._http.request(method, path, content=body, headers=headers)
        except httpx.ConnectError as error:
            raise UpstreamError(
                503, f"the upstream TF Serving at {self.url} cannot be reached ({error}); is it running?"
            ) from None
        except httpx.TimeoutException:
            raise UpstreamError(
                504,
                f"the upstream TF Serving at {self.url} did not answer within {UPSTREAM_TIMEOUT_SECONDS} s",
            ) from None
        except httpx.HTTPError as error:
            raise UpstreamError(
                502, f"the upstream at {self.url} gave no valid HTTP answer ({type(error).__name__}: {error})"
            ) from None

    async def version(self, status_path: str, request_id: str, fresh: bool = False) -> int | None:
        """The version a request to `status_path` (a model, or a model's label) gets: the newest
        available one; None when the upstream names none, and the request goes on as it came."""
        now = time.monotonic()
        remembered = self._versions.get(status_path)
        if remembered is not None and not fresh and now - remembered[0] < self._poll_seconds:
            return remembered[1]
        response = await self.send("GET", status_path, b"", request_id)
        version = None
        with contextlib.suppress(ValueError, TypeError, KeyError, AttributeError):
            available = [
                int(status["version"])
                for status in response.json()["model_version_status"]
                if status["state"] == "AVAILABLE"
            ]
            version = max(available, default=None)
        if version is not None:  # else asked again at the next request
            self._versions[status_path] = (now, version)
        return version


def build_front_app(
    upstream: Upstream, max_request_bytes: int, request_log: RequestLog | None, metrics: ServingMetrics
):
    """The front's Starlette app: TF Serving's REST API, answered by `upstream`."""

    async def predict(request: Request, match, request_id: str) -> httpx.Response:
        """The upstream's answer, logged here unless a front before this one logs it."""
        logged_by_front = logged_before(request.headers.get(LOGGED_KEY))
        log_to = None if logged_by_front else request_log
        raw = await read_body(request, max_request_bytes)
        pinned = match["version"] is not None
        version = int(match["version"]) if pinned else None
        status_path = "/v1/models/" + request.path_params["rest"].removesuffix(":predict")
        for attempt in range(1 if pinned else 2):
            if not pinned:
                version = await upstream.version(status_path, request_id, fresh=attempt > 0)
            path = (
                f"/v1/models/{match['model']}/versions/{version}:predict"
                if version is not None
                else request.url.path
            )
            answer = await upstream.send("POST", path, raw, request_id, logged_by_front or log_to is not None)
            if answer.status_code != 404:
                break
        if answer.status_code == 200:
            _record(request_id, version, raw, answer, status_path, log_to)
        return answer

    def _record(
        request_id: str,
        version: int | None,
        raw: bytes,
        answer: httpx.Response,
        status_path: str,
        log_to: RequestLog | None,
    ) -> None:
        """Logs and counts an answered prediction; without its version it is counted as dropped."""
        try:
            outputs = _logged_outputs(answer.json())
            inputs = _logged_inputs(parse_body(raw))
        except (ValueError, BadRequestError):
            return  # the upstream answered what is no prediction: nothing to log or count
        if not outputs:
            return
        if version is None:
            if log_to is not None:
                instances = len(next(iter(outputs.values())))
                log_to.drop(VERSION_UNKNOWN, instances, f"the upstream's {status_path} names no version")
            return
        if log_to is not None:
            log_to.record(request_id, version, inputs, outputs)
        metrics.predictions(version, outputs)

    async def answer(request: Request) -> Response:
        try:
            request_id = request_id_or_new(request.headers.get(REQUEST_ID_KEY))
        except RequestIdError as error:
            return error_response(400, f"X-Request-Id: {error}")
        match = MODEL_PATH.match(request.path_params["rest"])
        try:
            if request.method == "POST" and match and match["suffix"] == ":predict":
                upstream_answer = await predict(request, match, request_id)
            else:
                raw = await read_body(request, max_request_bytes)
                upstream_answer = await upstream.send(request.method, request.url.path, raw, request_id)
        except BodyTooLargeError as error:
            return error_response(413, str(error), {REQUEST_ID_KEY: request_id})
        except UpstreamError as error:
            return error_response(error.status, str(error), {REQUEST_ID_KEY: request_id})
        headers = {k: v for k, v in upstream_answer.headers.items() if k.lower() in _PASSED_HEADERS}
        return Response(
            upstream_answer.content,
            status_code=upstream_answer.status_code,
            headers={**headers, REQUEST_ID_KEY: request_id},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await upstream.close()

    return counted_app(answer, metrics, lifespan)
