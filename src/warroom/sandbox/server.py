"""The sandbox's HTTP face: the Kubernetes API subset, Prometheus' query API and `/metrics`,
and the fault-injection endpoints (`/api/v1/sandbox/faults`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from warroom.sandbox.api import handle
from warroom.sandbox.faults import FaultError
from warroom.sandbox.metrics import QueryError
from warroom.sandbox.sim import Sandbox

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def _time(value: str | None, default: float, what: str) -> float:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise QueryError(f'invalid parameter "{what}": cannot parse "{value}" to a valid '
                         "timestamp") from exc


def _duration(value: str | None, what: str) -> float:
    match = _DURATION.match(value or "")
    if not match:
        raise QueryError(f'invalid parameter "{what}": cannot parse "{value}" to a valid '
                         "duration")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _prom_error(message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "errorType": "bad_data", "error": message},
                        status_code=400)


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":  # Prometheus accepts url-encoded forms
        params.update(parse_qsl((await request.body()).decode("utf-8", "replace")))
    return params


_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def restamp(value: Any, stamp: Callable[[str], str]) -> Any:
    """Rewrite every RFC 3339 time in a JSON value (and at the start of log lines)."""
    if isinstance(value, dict):
        return {k: restamp(v, stamp) for k, v in value.items()}
    if isinstance(value, list):
        return [restamp(v, stamp) for v in value]
    if isinstance(value, str) and _STAMP.match(value):
        return stamp(value[:20]) + value[20:]
    return value


def create_app(sandbox: Sandbox, *, stamp: Callable[[str], str] | None = None) -> Starlette:
    """Return the ASGI app that serves one sandbox.

    `stamp` maps the simulated times in objects and log lines to the outside clock (the live
    runtime's wall clock), so every answer agrees with the Prometheus API's timestamps.
    """

    async def query_range(request: Request) -> Response:
        params = await _params(request)
        try:
            if not params.get("query"):
                raise QueryError('invalid parameter "query": empty query')
            now = sandbox.series.to_external(sandbox.now.timestamp())
            start = _time(params.get("start"), now - 3600, "start")
            end = _time(params.get("end"), now, "end")
            if end < start:
                raise QueryError('invalid parameter "end": end timestamp must not be before '
                                 "start time")
            step = _duration(params.get("step"), "step")
            result = sandbox.series.query_range(params["query"], start, end, step)
        except QueryError as exc:
            return _prom_error(str(exc))
        return JSONResponse({"status": "success",
                             "data": {"resultType": "matrix", "result": result}})

    async def query(request: Request) -> Response:
        params = await _params(request)
        try:
            if not params.get("query"):
                raise QueryError('invalid parameter "query": empty query')
            at = _time(params.get("time"),
                       sandbox.series.to_external(sandbox.now.timestamp()), "time")
            result = sandbox.series.query(params["query"], at)
        except QueryError as exc:
            return _prom_error(str(exc))
        return JSONResponse({"status": "success",
                             "data": {"resultType": "vector", "result": result}})

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(sandbox.series.exposition(sandbox.now.timestamp()),
                                 media_type="text/plain; version=0.0.4; charset=utf-8")

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": sandbox.fault_list(), "now": sandbox.now.isoformat()})
        try:
            body: dict[str, Any] = await request.json()
        except ValueError:
            return JSONResponse({"detail": "the body must be a JSON object"}, status_code=400)
        if not isinstance(body, dict) or not isinstance(body.get("fault"), str):
            return JSONResponse({"detail": "body.fault (a fault class) is required"},
                                status_code=422)
        try:
            fault = sandbox.inject(
                body["fault"], service=body.get("service"), namespace=body.get("namespace"),
                severity=float(body.get("severity", 0.8)),
                onset_seconds=float(body.get("onset_seconds", 0.0)))
        except (FaultError, TypeError, ValueError) as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)
        return JSONResponse(fault.as_dict(), status_code=201)

    async def clear_fault(request: Request) -> Response:
        try:
            fault = sandbox.clear(request.path_params["fault_id"])
        except FaultError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return JSONResponse(fault.as_dict())

    async def alerts(request: Request) -> Response:
        return JSONResponse({"firing": sandbox.firing()})

    async def kubernetes(request: Request) -> Response:
        body = await request.body()
        code, payload = handle(sandbox, request.method, request.url.path,
                               dict(request.query_params), body,
                               request.headers.get("content-type", "application/json"))
        if stamp is not None:
            if isinstance(payload, str):
                payload = "".join(restamp(line, stamp) + "\n"
                                  for line in payload.splitlines())
            else:
                payload = restamp(payload, stamp)
        if isinstance(payload, str):
            return PlainTextResponse(payload, status_code=code)
        return Response(json.dumps(payload), status_code=code, media_type="application/json")

    routes = [
        Route("/api/v1/query_range", query_range, methods=["GET", "POST"]),
        Route("/api/v1/query", query, methods=["GET", "POST"]),
        Route("/metrics", metrics),
        Route("/api/v1/sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/api/v1/sandbox/faults/{fault_id}", clear_fault, methods=["DELETE"]),
        Route("/api/v1/sandbox/alerts", alerts),
        Route("/{path:path}", kubernetes, methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]
    return Starlette(routes=routes)
