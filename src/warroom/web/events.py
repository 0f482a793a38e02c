"""`GET /api/v1/events`: Server-Sent Events from the in-process bus and the audit trail.

Two feeds, merged: the event bus of this process (agent turns and packages, at once) and new
audit rows, polled (every signal, decision, approval, execution, verification; these also come
from workers in other processes, which the bus cannot reach; workers in this process publish
to the same bus). A stream ends when the client goes away, after `limit` events or
`max_seconds`, and when the server is shutting down (sse-starlette watches uvicorn's exit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Annotated, Any, TypeVar

import anyio
import orjson
from fastapi import APIRouter, Depends, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from warroom.agents.events import EventBus
from warroom.store import audit
from warroom.store.deps import NotWired, Sessions

router = APIRouter(tags=["dashboard"])
T = TypeVar("T")
POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15
RETRY_MS = 3000
BATCH = 200
# after the server is asked to exit, how long a stream has to say goodbye before it is cut
SHUTDOWN_GRACE_SECONDS = 2.0
# how long one shielded read of the audit trail may take before the stream gives up
READ_TIMEOUT_SECONDS = 10.0


def get_bus() -> EventBus:
    """The process's event bus; the composition root (`api/app.py`) binds it."""
    raise NotWired("the event bus")


Bus = Annotated[EventBus, Depends(get_bus)]


def sse(event: str, data: dict[str, Any], *, id_: str | None = None) -> ServerSentEvent:
    """One Server-Sent Event, JSON data on one line, lines ending in a bare newline."""
    return ServerSentEvent(data=orjson.dumps(data, default=str).decode(), event=event, id=id_,
                           sep="\n")


async def _audit_head(sessions: Sessions) -> int:
    async with sessions() as session:
        return await audit.head_seq(session)


async def _audit_since(sessions: Sessions, seq: int) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await audit.events_after(session, seq, limit=BATCH)
    return [{"seq": r.seq, "at": r.at, "kind": r.kind, "actor": r.actor,
             "incident_id": r.incident_id, "decision_token": r.decision_token} for r in rows]


async def _finished(read: Coroutine[Any, Any, T]) -> T:
    """Run a database read to its end even when the stream is cancelled meanwhile.

    A client leaving cancels the stream's task group, and anyio keeps cancelling every await
    inside it; a read cut mid-statement would leave its pooled connection to be torn down
    under that cancellation, which never completes for aiosqlite. Shielded, the read finishes
    and hands its connection back; the cancellation lands at the next await after it.
    """
    with anyio.CancelScope(shield=True), anyio.fail_after(READ_TIMEOUT_SECONDS):
        result = await read
    return result


async def stream(sessions: Sessions, bus: EventBus, *, since: int | None, limit: int | None,
                 max_seconds: float, stopping: anyio.Event, poll: float = POLL_SECONDS,
                 ) -> AsyncIterator[ServerSentEvent]:
    """Yield events until `limit` went out, time is up or the server stops (`stopping`).

    sse-starlette ends the stream when the client leaves, sends the keep-alive comments, and
    sets `stopping` when the server is asked to exit, so the stream can say goodbye.
    """
    sent = 0
    deadline = time.monotonic() + max_seconds
    async with bus.subscribe() as queue:
        seq = since if since is not None else await _finished(_audit_head(sessions))
        yield ServerSentEvent(retry=RETRY_MS, sep="\n")
        yield sse("hello", {"audit_seq": seq})
        next_poll = 0.0
        while not stopping.is_set() and time.monotonic() < deadline:
            frames: list[ServerSentEvent] = []
            if time.monotonic() >= next_poll:
                for row in await _finished(_audit_since(sessions, seq)):
                    seq = row["seq"]
                    frames.append(sse("audit", row, id_=str(seq)))
                next_poll = time.monotonic() + poll
            try:
                topic, event = await asyncio.wait_for(queue.get(), timeout=min(poll, 0.5))
                frames.append(sse(topic, event))
            except TimeoutError:
                pass
            for frame in frames:
                yield frame
                sent += 1
                if limit is not None and sent >= limit:
                    return
    yield sse("bye", {"reason": "shutdown" if stopping.is_set() else "max_seconds"})


@router.get("/api/v1/events", summary="Stream warroom's events (Server-Sent Events)",
            response_class=EventSourceResponse)
async def events(
    request: Request,
    sessions: Sessions,
    bus: Bus,
    since: Annotated[int | None, Query(ge=0, description="replay audit rows after this seq")]
    = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="end after N events")]
    = None,
    max_seconds: Annotated[float, Query(gt=0, le=3600, description="end after this long")]
    = 600.0,
) -> EventSourceResponse:
    """Stream agent turns, packages and audit rows (decisions, approvals...) as they happen."""
    last_id = request.headers.get("last-event-id", "")
    if since is None and last_id.isdigit():
        since = int(last_id)  # a reconnecting EventSource picks up where it left off
    stopping = anyio.Event()
    return EventSourceResponse(
        stream(sessions, bus, since=since, limit=limit, max_seconds=max_seconds,
               stopping=stopping),
        headers={"Cache-Control": "no-cache"},
        ping=KEEPALIVE_SECONDS,
        sep="\n",
        shutdown_event=stopping,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )
