"""TF Serving's REST API on Starlette: model status, metadata and predict, with its URL scheme
and its error shape, `{"error": "..."}` with 400 for a bad request and 404 for what is not there."""

from __future__ import annotations

import json
import re

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serving import messages
from serving.predict import (
    BadRequestError,
    columns_to_tensors,
    input_specs,
    outputs_as_columns,
    outputs_as_rows,
    predict,
    rows_to_tensors,
)
from serving.repository import DEFAULT_SIGNATURE, ModelRepository, NotFoundError

_PATH = re.compile(
    r"^(?P<model>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?(?P<suffix>/metadata|:predict)?$"
)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _json(payload) -> Response:
    """orjson writes numpy arrays directly: no per-number Python objects on large batches."""
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json")


def _parse_body(raw: bytes):
    """orjson first; the standard parser for what only it accepts, such as NaN for a missing value."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def build_app(repository: ModelRepository) -> Starlette:
    def resolve(request: Request):
        match = _PATH.match(request.path_params["rest"])
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
                return _error(405, f"{match['suffix']} takes POST")
            if label is not None:
                version = repository.get(label=label).version
            return JSONResponse(messages.as_json(messages.model_status(repository.status(version))))
        except NotFoundError as error:
            return _error(404, str(error))

    async def post(request: Request) -> JSONResponse:
        try:
            match, version, label = resolve(request)
            if match["suffix"] != ":predict":
                return _error(405, "only :predict takes POST")
            loaded = repository.get(version, label)
        except NotFoundError as error:
            return _error(404, str(error))
        try:
            body = _parse_body(await request.body())
        except ValueError as error:
            return _error(400, f"the request body is not valid JSON: {error}")
        try:
            if not isinstance(body, dict):
                raise BadRequestError("the request body must be a JSON object")
            signature_name = body.get("signature_name", DEFAULT_SIGNATURE)
            specs = input_specs(loaded, signature_name)
            if ("instances" in body) == ("inputs" in body):
                raise BadRequestError("the request must have exactly one of 'instances' or 'inputs'")
            row_format = "instances" in body
            tensors = (
                rows_to_tensors(body["instances"], specs)
                if row_format
                else columns_to_tensors(body["inputs"], specs)
            )
            outputs = await run_in_threadpool(predict, loaded, signature_name, tensors)
        except NotFoundError as error:
            return _error(400, str(error))
        except BadRequestError as error:
            return _error(400, str(error))
        if row_format:
            return _json({"predictions": outputs_as_rows(outputs)})
        return _json({"outputs": outputs_as_columns(outputs)})

    return Starlette(
        routes=[
            Route("/v1/models/{rest:path}", get, methods=["GET"]),
            Route("/v1/models/{rest:path}", post, methods=["POST"]),
        ]
    )
