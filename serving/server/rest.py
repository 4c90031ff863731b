"""TF Serving's REST API on Starlette: model status, metadata and predict, with its URL scheme
and its error shape, `{"error": "..."}` with 400 for a bad request, 404 for what is not there and
413 for a body over the size limit.

Every answer, errors included, is JSON and leaves the keep-alive connection open: Starlette's own
handling of an unexpected exception sends plain text and makes uvicorn drop the connection, which
fails the client's next request too.

Every answer is counted in the metrics, whose page is served beside the API at TF Serving's path;
`counted_app` gives the logging front (front.py) the same routes, counting and error shape.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serving.monitoring.metrics import CONTENT_TYPE, METRICS_PATH, REST, ServingMetrics, status_name
from serving.monitoring.request_log import LOGGED_KEY, RequestLog, logged_before
from serving.request_ids import REQUEST_ID_KEY, RequestIdError, request_id_or_new
from serving.server import messages
from serving.server.answers import columns_answer, rows_answer
from serving.server.predict import (
    BadRequestError,
    SignatureInput,
    as_tensors,
    columns_to_arrays,
    first_line,
    input_specs,
    predict,
    reading_request,
    rows_to_arrays,
)
from serving.server.repository import DEFAULT_SIGNATURE, LoadedVersion, ModelRepository, NotFoundError
from serving.server.request_json import parse_body, parse_body_nulls_as_nan

LOG = logging.getLogger(__name__)
MODEL_PATH = re.compile(
    r"^(?P<model>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?(?P<suffix>/metadata|:predict)?$"
)


class BodyTooLargeError(ValueError):
    """The request body is over the server's limit; answered 413."""


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused beyond `limit` bytes: at once when its declared length is over, else as it
    streams in (a chunked body declares none)."""
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > limit:
        raise BodyTooLargeError(
            f"the request body of {declared} bytes is over this server's limit of {limit} bytes "
            "(penguins serve --max-request-bytes)"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(
                f"the request body is over this server's limit of {limit} bytes "
                "(penguins serve --max-request-bytes)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


# What a predict request asks for: the signature's name and inputs, the request's checked arrays by
# input name, and whether it used the row format.
_Request = tuple[str, dict[str, SignatureInput], dict[str, np.ndarray], bool]


def _request_arrays(raw: bytes, loaded: LoadedVersion) -> _Request:
    body, nulls_are_nan = parse_body_nulls_as_nan(raw)
    try:
        return _arrays_of(body, loaded, nulls_are_nan)
    except BadRequestError:
        if not nulls_are_nan:
            raise
    # A null read for a NaN where no float is expected: read again as Python reads it, so that the
    # refusal (or the answer, for a NaN nested deeper than a flat input) sees the NaN.
    return _arrays_of(parse_body(raw), loaded, nulls_are_nan=False)


def _arrays_of(body: Any, loaded: LoadedVersion, nulls_are_nan: bool) -> _Request:
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object")
    signature_name = body.get("signature_name", DEFAULT_SIGNATURE)
    specs = input_specs(loaded, signature_name)
    if ("instances" in body) == ("inputs" in body):
        raise BadRequestError("the request must have exactly one of 'instances' or 'inputs'")
    if "instances" in body:
        return signature_name, specs, rows_to_arrays(body["instances"], specs, nulls_are_nan), True
    return signature_name, specs, columns_to_arrays(body["inputs"], specs, nulls_are_nan), False


# A request of up to this many instances is predicted on the event loop: the model answers it in
# about half a millisecond, less than the hop to a worker thread and back costs on a busy 2-core
# machine. Larger batches go to a thread, so that they never hold up the small ones.
_INLINE_BATCH = 8


def _batch_size(arrays: dict[str, np.ndarray]) -> int:
    return max((array.shape[0] if array.ndim else 1) for array in arrays.values())


def _json_on_failure(endpoint):
    """A fault of the server's own is answered 500 in the JSON error shape, and logged."""

    @functools.wraps(endpoint)
    async def answer(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as error:
            LOG.exception("%s %s failed", request.method, request.url.path)
            return error_response(
                500, f"the server failed on this request ({type(error).__name__}: {first_line(error)})"
            )

    return answer


async def _http_error(request: Request, error: HTTPException) -> JSONResponse:
    """Starlette's answers for an unknown path or method, in TF Serving's error shape."""
    return error_response(
        error.status_code, f"{error.detail}: {request.method} {request.url.path}", error.headers
    )


def build_app(
    repository: ModelRepository,
    max_request_bytes: int,
    request_log: RequestLog | None,
    metrics: ServingMetrics,
) -> Starlette:
    def resolve(request: Request):
        match = MODEL_PATH.match(request.path_params["rest"])
        if not match:
            raise NotFoundError(f"no such endpoint: {request.url.path}")
        if match["model"] != repository.model_name:
            raise NotFoundError(f"Servable not found for request: model '{match['model']}'")
        version = int(match["version"]) if match["version"] else None
        return match, version, match["label"]

    async def get(request: Request) -> JSONResponse:
        try:
            match, version, label = resolve(request)
            if match["suffix"] == "/metadata":
                loaded = repository.get(version, label)
                return JSONResponse(messages.metadata_json(repository.model_name, loaded))
            if match["suffix"]:
                return error_response(405, f"{match['suffix']} takes POST")
            if label is not None:
                version = repository.get(label=label).version
            return JSONResponse(messages.as_json(messages.model_status(repository.status(version))))
        except NotFoundError as error:
            return error_response(404, str(error))

    async def post(request: Request) -> Response:
        """Every answer names the request's id in its X-Request-Id header, errors included, but for the
        refusal of an id that breaks the rule. A request that a logging front before this server logs
        is not logged here again."""
        try:
            request_id = request_id_or_new(request.headers.get(REQUEST_ID_KEY))
        except RequestIdError as error:
            return error_response(400, f"X-Request-Id: {error}")
        log_to = None if logged_before(request.headers.get(LOGGED_KEY)) else request_log
        response = await predict_answer(request, request_id, log_to)
        response.headers[REQUEST_ID_KEY] = request_id
        return response

    async def predict_answer(request: Request, request_id: str, log_to: RequestLog | None) -> Response:
        try:
            match, version, label = resolve(request)
            if match["suffix"] != ":predict":
                return error_response(405, "only :predict takes POST")
            loaded = repository.get(version, label)
        except NotFoundError as error:
            return error_response(404, str(error))
        try:
            raw = await read_body(request, max_request_bytes)
        except BodyTooLargeError as error:
            return error_response(413, str(error))
        try:
            with reading_request():
                signature_name, specs, arrays, row_format = _request_arrays(raw, loaded)
                tensors = as_tensors(arrays, specs)
            if _batch_size(arrays) <= _INLINE_BATCH:
                outputs = predict(loaded, signature_name, tensors)
            else:
                outputs = await run_in_threadpool(predict, loaded, signature_name, tensors)
        except (BadRequestError, NotFoundError) as error:
            return error_response(400, str(error))
        if log_to is not None:
            log_to.record(request_id, loaded.version, tensors, outputs)
        metrics.predictions(loaded.version, outputs)
        answer = rows_answer(outputs) if row_format else columns_answer(outputs)
        return Response(answer, media_type="application/json")

    async def answer(request: Request) -> Response:
        return await (post(request) if request.method == "POST" else get(request))

    return counted_app(answer, metrics)


def counted_app(answer, metrics: ServingMetrics, lifespan=None) -> Starlette:
    """TF Serving's REST routes around `answer`, the handler of every /v1/models request: its answers
    counted in `metrics` (one route for both methods, so that a 405 lists both as allowed), and the
    metrics page beside them."""
    answer = _json_on_failure(answer)

    async def endpoint(request: Request) -> Response:
        started = time.perf_counter()
        response = await answer(request)
        match = MODEL_PATH.match(request.path_params["rest"])
        api = "predict" if request.method == "POST" and match and match["suffix"] == ":predict" else ""
        model_name = match["model"] if match else ""
        metrics.request(model_name, status_name(response.status_code), api, REST, started)
        return response

    async def metrics_page(request: Request) -> Response:
        return Response(await run_in_threadpool(metrics.page), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/v1/models/{rest:path}", endpoint, methods=["GET", "POST"]),
            Route(METRICS_PATH, metrics_page, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
