"""The debate's event feed: an in-process bus, and an optional best-effort Redis Streams sink.

Nothing depends on the feed: a slow subscriber loses events (its queue is bounded) instead of
slowing the debate, and a Redis that is down costs one logged failure per event, no more.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import orjson
import structlog

log = structlog.get_logger(__name__)


class EventSink(Protocol):
    async def send(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver one event outside the process (best effort)."""
        ...


class EventBus:
    """Fan events out to in-process subscribers and to optional outside sinks."""

    def __init__(self, *, queue_size: int = 1000, sinks: list[EventSink] | None = None,
                 sink_timeout: float = 0.5) -> None:
        self._subscribers: list[tuple[str | None, asyncio.Queue[tuple[str, dict[str, Any]]]]] = []
        self._queue_size = queue_size
        self.sinks = list(sinks or [])
        self._sink_timeout = sink_timeout
        self.dropped = 0

    @asynccontextmanager
    async def subscribe(self, topic: str | None = None,
                        ) -> AsyncIterator[asyncio.Queue[tuple[str, dict[str, Any]]]]:
        """Receive (topic, event) pairs while the context is open; None means every topic."""
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(self._queue_size)
        entry = (topic, queue)
        self._subscribers.append(entry)
        try:
            yield queue
        finally:
            self._subscribers.remove(entry)

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        """Deliver to every subscriber without waiting, then to the sinks within a time bound."""
        for wanted, queue in list(self._subscribers):
            if wanted is not None and wanted != topic:
                continue
            try:
                queue.put_nowait((topic, event))
            except asyncio.QueueFull:
                self.dropped += 1
        for sink in self.sinks:
            try:
                await asyncio.wait_for(sink.send(topic, event), self._sink_timeout)
            except Exception as exc:  # best effort: the feed never breaks the debate
                log.warning("event sink failed", sink=type(sink).__name__, topic=topic,
                            error=f"{type(exc).__name__}: {exc}")


class RedisStreamSink:
    """Append events to a Redis Stream per topic, capped at about `maxlen` entries."""

    def __init__(self, url: str, *, prefix: str = "warroom:", maxlen: int = 10_000,
                 backoff_seconds: float = 30.0) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = prefix
        self.maxlen = maxlen
        self.backoff_seconds = backoff_seconds
        self._down_until = 0.0  # after a failure, skip Redis for a while instead of waiting

    def stream(self, topic: str) -> str:
        """Return the Redis key of a topic's stream."""
        return f"{self.prefix}{topic}"

    async def send(self, topic: str, event: dict[str, Any]) -> None:
        """XADD the event as one JSON field, trimming the stream approximately to `maxlen`."""
        if time.monotonic() < self._down_until:
            return  # Redis failed recently: drop the event rather than slow the debate
        try:
            await self._redis.xadd(self.stream(topic),
                                   {"event": orjson.dumps(event, default=str)},
                                   maxlen=self.maxlen, approximate=True)
        except BaseException:
            self._down_until = time.monotonic() + self.backoff_seconds
            raise

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def bus_from_settings(redis_url: str, maxlen: int) -> EventBus:
    """Build the bus, with the Redis sink when a URL is configured."""
    sinks: list[EventSink] = [RedisStreamSink(redis_url, maxlen=maxlen)] if redis_url else []
    return EventBus(sinks=sinks)


_BUSES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], EventBus]] = (
    weakref.WeakKeyDictionary())


def get_bus(redis_url: str = "", maxlen: int = 10_000) -> EventBus:
    """Return the shared bus for these settings in the running event loop.

    One per loop: queues and Redis connections belong to the loop that made them, and workflow
    workers may run steps on loops of their own.
    """
    buses = _BUSES.setdefault(asyncio.get_running_loop(), {})
    key = (redis_url, maxlen)
    if key not in buses:
        buses[key] = bus_from_settings(redis_url, maxlen)
    return buses[key]
