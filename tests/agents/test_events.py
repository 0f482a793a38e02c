from __future__ import annotations

import asyncio

import orjson

from warroom.agents.events import EventBus, RedisStreamSink


async def test_subscribers_get_their_topics_and_slow_ones_lose_events() -> None:
    bus = EventBus(queue_size=2)
    async with bus.subscribe("agent.turn") as turns, bus.subscribe() as everything:
        for i in range(3):
            await bus.publish("agent.turn", {"i": i})
        await bus.publish("debate.package", {"done": True})
        assert [turns.get_nowait()[1]["i"] for _ in range(turns.qsize())] == [0, 1]
        assert everything.qsize() == 2
        assert bus.dropped == 3  # one turn and one package for `everything`, one turn for `turns`
    await bus.publish("agent.turn", {"after": True})  # no subscriber left: nothing happens


class BrokenSink:
    async def send(self, topic: str, event: dict[str, object]) -> None:
        raise ConnectionError("redis down")

    async def close(self) -> None:
        pass


class SlowSink:
    async def send(self, topic: str, event: dict[str, object]) -> None:
        await asyncio.sleep(10)

    async def close(self) -> None:
        pass


async def test_failing_or_slow_sinks_never_break_publishing() -> None:
    bus = EventBus(sinks=[BrokenSink(), SlowSink()], sink_timeout=0.05)
    async with bus.subscribe() as feed:
        await asyncio.wait_for(bus.publish("agent.turn", {"role": "solver"}), 2)
        assert feed.get_nowait() == ("agent.turn", {"role": "solver"})


async def test_redis_stream_sink_appends_capped(redis_url: str) -> None:
    from redis.asyncio import Redis

    sink = RedisStreamSink(redis_url, prefix="warroom-test:", maxlen=5)
    client = Redis.from_url(redis_url)
    try:
        await client.delete(sink.stream("agent.turn"))
        bus = EventBus(sinks=[sink])
        for i in range(200):
            await bus.publish("agent.turn", {"i": i})
        length = await client.xlen(sink.stream("agent.turn"))
        assert 5 <= length < 200  # approximate trimming keeps it near maxlen
        last = await client.xrevrange(sink.stream("agent.turn"), count=1)
        assert orjson.loads(last[0][1][b"event"]) == {"i": 199}
    finally:
        await client.delete(sink.stream("agent.turn"))
        await client.aclose()
        await sink.close()


async def test_unreachable_redis_is_skipped_after_one_failure() -> None:
    sink = RedisStreamSink("redis://127.0.0.1:1/0", backoff_seconds=60)
    bus = EventBus(sinks=[sink], sink_timeout=2)
    try:
        await bus.publish("agent.turn", {"i": 1})  # fails once, logged, not raised
        assert sink._down_until > 0
        calls = 0
        client = sink.client()
        real = client.xadd

        async def counting(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return await real(*args, **kwargs)

        client.xadd = counting  # type: ignore[method-assign]
        await bus.publish("agent.turn", {"i": 2})
        assert calls == 0  # within the back-off nothing is even tried
    finally:
        await sink.close()


async def test_an_event_published_on_another_loop_reaches_the_subscriber() -> None:
    bus = EventBus()
    here = asyncio.get_running_loop()

    def elsewhere() -> asyncio.AbstractEventLoop:
        async def publish() -> asyncio.AbstractEventLoop:
            await bus.publish("agent.turn", {"role": "critic"})
            return asyncio.get_running_loop()

        return asyncio.run(publish())  # a loop of its own, in its own thread

    async with bus.subscribe("agent.turn") as turns:
        there = await asyncio.to_thread(elsewhere)
        # a guard against hanging, not a performance figure
        assert await asyncio.wait_for(turns.get(), 5) == ("agent.turn", {"role": "critic"})
    assert there is not here


async def test_a_redis_sink_opens_one_client_per_loop() -> None:
    sink = RedisStreamSink("redis://127.0.0.1:1/0")
    here = sink.client()
    assert sink.client() is here

    def elsewhere() -> object:
        async def make() -> object:
            client = sink.client()
            await sink.close()
            return client

        return asyncio.run(make())

    assert await asyncio.to_thread(elsewhere) is not here
    await sink.close()
