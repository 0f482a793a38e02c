"""Read and validate JSON request bodies: size limit, clear 4xx errors with JSON paths."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
MAX_ERRORS = 50


class BodyError(Exception):
    """A client error in the request body, answered as JSON with the status given."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors or []

    def response(self) -> Response:
        """Render the error as the JSON answer the client gets."""
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return Response(orjson.dumps(body), status_code=self.status, media_type="application/json")


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a Pydantic error location as a JSON path: ("alerts", 0) → $.alerts[0]."""
    path = "$"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier():
            path += f".{part}"
        else:
            path += f"[{orjson.dumps(part).decode()}]"
    return path


def find_nul(value: Any, loc: tuple[int | str, ...] = ()) -> str | None:
    """Return the JSON path of the first key or string holding NUL (PostgreSQL refuses it)."""
    if isinstance(value, str):
        return json_path(loc) if "\x00" in value else None
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return json_path((*loc, key))
        found = find_nul(item, (*loc, key))
        if found:
            return found
    return None


async def read_limited(request: Request, limit: int) -> bytes:
    """Read the body, refusing with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BodyError(400, f"Content-Length {declared!r} is not a number") from None
        if size > limit:
            raise BodyError(413, f"body of {size} bytes is over the limit of {limit} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:  # a client that lied about, or omitted, Content-Length
            raise BodyError(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse(model: type[Model], body: bytes) -> Model:
    """Validate a JSON body against `model`; 400 for non-JSON, 422 naming each bad field."""
    if not body.strip():
        raise BodyError(400, f"the request body is empty: expected a JSON {model.__name__}")
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if errors and errors[0]["type"] == "json_invalid":
            raise BodyError(
                400, f"the request body is not valid JSON: {errors[0]['msg']}"
            ) from None
        listed = [
            {"path": json_path(tuple(e["loc"])), "message": e["msg"], "type": e["type"]}
            for e in errors[:MAX_ERRORS]
        ]
        more = f" (first {MAX_ERRORS} listed)" if len(errors) > MAX_ERRORS else ""
        raise BodyError(
            422, f"{len(errors)} invalid field(s) in the {model.__name__} body{more}", listed
        ) from None
    if b"\\u0000" in body:
        # PostgreSQL cannot store NUL in text: refuse it on every backend alike
        path = find_nul(orjson.loads(body)) or "$"
        raise BodyError(
            422,
            "NUL characters (\\u0000) are not accepted",
            [{"path": path, "message": "string contains \\u0000", "type": "nul_character"}],
        )
    return parsed
