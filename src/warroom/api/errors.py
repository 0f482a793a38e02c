"""The app's error handlers: body errors as given, database outages as 503 so senders retry."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

from warroom.http.body import BodyError
from warroom.http.errors import UNAVAILABLE_ERRORS, unavailable_response
from warroom.observe.metrics import DATABASE_ERRORS


def install(app: FastAPI) -> None:
    """Register the handlers: body errors as given, database outages as 503."""

    async def on_body_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyError)
        return exc.response()

    async def on_database_error(_request: Request, exc: Exception) -> Response:
        DATABASE_ERRORS.labels("api").inc()
        return unavailable_response(exc)

    app.add_exception_handler(BodyError, on_body_error)
    for kind in UNAVAILABLE_ERRORS:
        app.add_exception_handler(kind, on_database_error)
