"""Which failures mean "the database is unavailable": answered 503 so senders retry."""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from warroom.api.body import BodyError
from warroom.observe.metrics import DATABASE_ERRORS

RETRY_AFTER_SECONDS = "5"


def database_unavailable(exc: BaseException) -> bool:
    """Tell whether an exception means the database cannot be reached or used right now."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # drivers raise plain socket errors while connecting (asyncpg: connection refused)
    return isinstance(exc, ConnectionError | TimeoutError | OSError)


def unavailable_response(exc: BaseException) -> Response:
    """Answer 503 with Retry-After, naming the cause without leaking the statement."""
    cause = type(exc.__cause__ or exc).__name__
    return Response(
        orjson.dumps({"detail": f"the database is unavailable ({cause}); retry later"}),
        status_code=503,
        media_type="application/json",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def install(app: FastAPI) -> None:
    """Register the handlers: body errors as given, database outages as 503."""

    async def on_body_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyError)
        return exc.response()

    async def on_database_error(_request: Request, exc: Exception) -> Response:
        DATABASE_ERRORS.labels("api").inc()
        return unavailable_response(exc)

    app.add_exception_handler(BodyError, on_body_error)
    for kind in (OperationalError, InterfaceError, PoolTimeoutError):
        app.add_exception_handler(kind, on_database_error)
