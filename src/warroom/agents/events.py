"""The debate's event feed: an in-process bus, and an optional best-effort Redis Streams sink.

Nothing depends on the feed: a slow subscriber loses events (its queue is bounded) instead of
slowing the debate, and a Redis that is down costs one logged failure per event, no more.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import structlog

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)


class EventSink(Protocol):
    async def send(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver one event outside the process (best effort)."""
        ...

    async def close(self) -> None:
        """Release the sink's connections."""
        ...


Item = tuple[str, dict[str, Any]]


class _Subscriber:
    """One subscriber's bounded queue and the event loop that reads it."""

    def __init__(self, topic: str | None, queue_size: int) -> None:
        self.topic = topic
        self.queue: asyncio.Queue[Item] = asyncio.Queue(queue_size)
        self.loop = asyncio.get_running_loop()


class EventBus:
    """Fan events out to in-process subscribers and to optional outside sinks.

    One bus serves the whole process: the API's event loop (the dashboard's stream subscribes
    there) and the workflow worker's loop (the debate publishes there). A subscriber's queue
    belongs to its loop, so an event published on another loop is handed over with
    `call_soon_threadsafe`; on the subscriber's own loop it is queued at once.
    """

    def __init__(self, *, queue_size: int = 1000, sinks: list[EventSink] | None = None,
                 sink_timeout: float = 0.5) -> None:
        self._subscribers: list[_Subscriber] = []
        self._lock = threading.Lock()  # subscribe and publish may run on different threads
        self._queue_size = queue_size
        self.sinks = list(sinks or [])
        self._sink_timeout = sink_timeout
        self.dropped = 0

    @asynccontextmanager
    async def subscribe(self, topic: str | None = None) -> AsyncIterator[asyncio.Queue[Item]]:
        """Receive (topic, event) pairs while the context is open; None means every topic."""
        entry = _Subscriber(topic, self._queue_size)
        with self._lock:
            self._subscribers.append(entry)
        try:
            yield entry.queue
        finally:
            with self._lock:
                self._subscribers.remove(entry)

    def _offer(self, queue: asyncio.Queue[Item], item: Item) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver to every subscriber without waiting, then to the sinks within a time bound."""
        here = asyncio.get_running_loop()
        with self._lock:
            subscribers = list(self._subscribers)
        for entry in subscribers:
            if entry.topic is not None and entry.topic != topic:
                continue
            if entry.loop is here:
                self._offer(entry.queue, (topic, event))
            elif not entry.loop.is_closed():
                try:
                    entry.loop.call_soon_threadsafe(self._offer, entry.queue, (topic, event))
                except RuntimeError:  # the loop closed meanwhile: its subscriber is gone
                    pass
        for sink in self.sinks:
            try:
                await asyncio.wait_for(sink.send(topic, event), self._sink_timeout)
            except Exception as exc:  # best effort: the feed never breaks the debate
                log.warning("event sink failed", sink=type(sink).__name__, topic=topic,
                            error=f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        """Close the sinks that hold connections."""
        for sink in self.sinks:
            await sink.close()


class RedisStreamSink:
    """Append events to a Redis Stream per topic, capped at about `maxlen` entries.

    A Redis connection belongs to the event loop that opened it, and the bus publishes from
    the API's loop and the worker's: the sink keeps one client per loop, opened on first use.
    """

    def __init__(self, url: str, *, prefix: str = "warroom:", maxlen: int = 10_000,
                 backoff_seconds: float = 30.0) -> None:
        self.url = url
        self.prefix = prefix
        self.maxlen = maxlen
        self.backoff_seconds = backoff_seconds
        self._down_until = 0.0  # after a failure, skip Redis for a while instead of waiting
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Redis] = (
            weakref.WeakKeyDictionary())

    def client(self) -> Redis:
        """Return the client of the running event loop."""
        # lazy: cold import cost (python -X importtime): redis.asyncio ~480 ms; kept off the
        # module's import path
        from redis.asyncio import Redis

        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            self._clients[loop] = Redis.from_url(self.url, socket_timeout=1.0,
                                                 socket_connect_timeout=1.0)
        return self._clients[loop]

    def stream(self, topic: str) -> str:
        """Return the Redis key of a topic's stream."""
        return f"{self.prefix}{topic}"

    async def send(self, topic: str, event: dict[str, Any]) -> None:
        """XADD the event as one JSON field, trimming the stream approximately to `maxlen`."""
        if time.monotonic() < self._down_until:
            return  # Redis failed recently: drop the event rather than slow the debate
        try:
            await self.client().xadd(self.stream(topic),
                                     {"event": orjson.dumps(event, default=str)},
                                     maxlen=self.maxlen, approximate=True)
        except BaseException:
            self._down_until = time.monotonic() + self.backoff_seconds
            raise

    async def close(self) -> None:
        """Close the running loop's connection pool (other loops' close with their loops)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def bus_from_settings(redis_url: str, maxlen: int) -> EventBus:
    """Build the bus, with the Redis sink when a URL is configured."""
    sinks: list[EventSink] = [RedisStreamSink(redis_url, maxlen=maxlen)] if redis_url else []
    return EventBus(sinks=sinks)
