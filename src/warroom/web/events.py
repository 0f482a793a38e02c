"""`GET /api/v1/events`: Server-Sent Events from the in-process bus and the audit trail.

Two feeds, merged: the event bus of this process (agent turns and packages, at once) and new
audit rows, polled (every signal, decision, approval, execution, verification; these also come
from workers in other threads or processes, which the bus cannot reach). A stream ends when the
client goes away, after `limit` events or `max_seconds`, and when the server is shutting down.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from warroom.agents.events import get_bus
from warroom.store import audit
from warroom.store.tables import AuditEvent

router = APIRouter(tags=["dashboard"])
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 3000
BATCH = 200


class _Shutdown:
    """Set when the server is asked to exit, so open streams end and shutdown is not held up.

    uvicorn waits for every open response before it shuts the app down, and an event stream
    never ends on its own; wrapping uvicorn's exit handler (as sse-starlette does) tells the
    streams first. `stopping` may also be set directly (tests, other servers).
    """

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._hooked = False

    def hook_uvicorn(self) -> None:
        """Wrap `uvicorn.Server.handle_exit` once so a SIGINT/SIGTERM also ends the streams."""
        if self._hooked:
            return
        try:
            from uvicorn import Server
        except ImportError:  # another server: streams still end on disconnect or max_seconds
            return
        original = Server.handle_exit
        if getattr(original, "_warroom_streams", False):
            self._hooked = True
            return
        shutdown = self

        def handle_exit(server: Server, sig: int, frame: Any) -> None:
            shutdown.stopping.set()
            original(server, sig, frame)

        handle_exit._warroom_streams = True  # type: ignore[attr-defined]
        Server.handle_exit = handle_exit  # type: ignore[method-assign, assignment]
        self._hooked = True


SHUTDOWN = _Shutdown()
SHUTDOWN.hook_uvicorn()


def sse(event: str, data: dict[str, Any], *, id_: str | None = None) -> bytes:
    """Encode one Server-Sent Event (JSON data on one line)."""
    head = f"id: {id_}\n" if id_ else ""
    return (f"{head}event: {event}\ndata: ".encode() + orjson.dumps(data, default=str) + b"\n\n")


async def _audit_head(request: Request) -> int:
    async with request.app.state.sessions() as session:
        return int((await session.execute(select(func.max(AuditEvent.seq)))).scalar() or 0)


async def _audit_since(request: Request, seq: int) -> list[dict[str, Any]]:
    async with request.app.state.sessions() as session:
        rows = (await session.execute(
            select(AuditEvent.seq, AuditEvent.at, AuditEvent.kind, AuditEvent.actor,
                   AuditEvent.incident_id, AuditEvent.decision_token)
            .where(AuditEvent.seq > seq).order_by(AuditEvent.seq).limit(BATCH))).all()
    return [{"seq": r.seq, "at": audit.utc(r.at), "kind": r.kind, "actor": r.actor,
             "incident_id": r.incident_id, "decision_token": r.decision_token} for r in rows]


async def stream(request: Request, *, since: int | None, limit: int | None,
                 max_seconds: float, poll: float = POLL_SECONDS) -> AsyncIterator[bytes]:
    """Yield SSE frames until the client leaves, `limit` events went out, time or shutdown."""
    settings = request.app.state.settings
    bus = get_bus(settings.redis_url, settings.event_stream_maxlen)
    sent = 0
    deadline = time.monotonic() + max_seconds
    async with bus.subscribe() as queue:
        seq = since if since is not None else await _audit_head(request)
        yield f"retry: {RETRY_MS}\n".encode() + sse("hello", {"audit_seq": seq})
        next_poll = 0.0
        last_write = time.monotonic()
        while not SHUTDOWN.stopping.is_set() and time.monotonic() < deadline:
            if await request.is_disconnected():
                return
            frames: list[bytes] = []
            if time.monotonic() >= next_poll:
                for row in await _audit_since(request, seq):
                    seq = row["seq"]
                    frames.append(sse("audit", row, id_=str(seq)))
                next_poll = time.monotonic() + poll
            try:
                topic, event = await asyncio.wait_for(queue.get(), timeout=min(poll, 0.5))
                frames.append(sse(topic, event))
            except TimeoutError:
                pass
            if not frames and time.monotonic() - last_write > KEEPALIVE_SECONDS:
                frames.append(b": keep-alive\n\n")
            for frame in frames:
                yield frame
                last_write = time.monotonic()
                if not frame.startswith(b":"):
                    sent += 1
                if limit is not None and sent >= limit:
                    return
    yield sse("bye", {"reason": "shutdown" if SHUTDOWN.stopping.is_set() else "max_seconds"})


@router.get("/api/v1/events", summary="Stream warroom's events (Server-Sent Events)",
            response_class=StreamingResponse)
async def events(
    request: Request,
    since: Annotated[int | None, Query(ge=0, description="replay audit rows after this seq")]
    = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="end after N events")]
    = None,
    max_seconds: Annotated[float, Query(gt=0, le=3600, description="end after this long")]
    = 600.0,
) -> StreamingResponse:
    """Stream agent turns, packages and audit rows (decisions, approvals...) as they happen."""
    last_id = request.headers.get("last-event-id", "")
    if since is None and last_id.isdigit():
        since = int(last_id)  # a reconnecting EventSource picks up where it left off
    return StreamingResponse(
        stream(request, since=since, limit=limit, max_seconds=max_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
