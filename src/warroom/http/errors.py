"""Which failures mean "the database is unavailable": answered 503 so senders retry."""

from __future__ import annotations

import orjson
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

RETRY_AFTER_SECONDS = "5"
# what the app answers 503 for wherever it is raised (api.errors installs the handlers)
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError, InterfaceError, PoolTimeoutError,
)


def database_unavailable(exc: BaseException) -> bool:
    """Tell whether an exception means the database cannot be reached or used right now."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
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
