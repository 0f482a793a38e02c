"""The response cache in Redis: same keys as the database cache, a TTL, hits marked."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel, ValidationError

from warroom.config import Settings
from warroom.llm.models import CachedAnswer, PendingCache
from warroom.llm.repository import CacheReader, RedisCache, cache_reader, store_answers
from warroom.llm.service import ModelRuntime


class Word(BaseModel):
    summary: str


def test_the_settings_choose_the_store() -> None:
    def store(**kwargs: object) -> Settings:
        return Settings(_env_file=None, **kwargs)  # type: ignore[arg-type]

    assert not store().llm_cache_in_redis
    assert store(redis_url="redis://127.0.0.1:6379/0").llm_cache_in_redis
    assert not store(redis_url="redis://127.0.0.1:6379/0",
                     llm_cache_store="database").llm_cache_in_redis
    with pytest.raises(ValidationError, match="llm_cache_store is redis: set WARROOM_REDIS_URL"):
        store(llm_cache_store="redis")
    assert isinstance(cache_reader(None, store()), CacheReader)  # type: ignore[arg-type]


@pytest.mark.redis
async def test_an_answer_is_stored_in_redis_with_its_ttl_and_reused(redis_url: str) -> None:
    from redis.asyncio import Redis

    settings = Settings(_env_file=None, redis_url=redis_url,  # type: ignore[call-arg]
                        llm_model="test:bogus", agent_deadline_seconds=1.5,
                        llm_reserve_seconds=0.5)
    prompt = f"role: summary\nrun {uuid.uuid4().hex}"  # a question no earlier run asked

    first_cache = cache_reader(None, settings)  # type: ignore[arg-type]
    assert isinstance(first_cache, RedisCache)
    first = ModelRuntime(settings, cache_get=first_cache)
    asked = await first.ask(role="summary", mode="summary", instructions="i", prompt=prompt,
                            output_type=Word, evidence_digest="d")
    assert asked[1].status == "accepted" and not asked[1].cached
    # the scripted model answered; store its answer as an analysis does at its end
    key = first.pending[0].key
    await store_answers(None, first.cache, first.pending, ttl_seconds=120)  # type: ignore[arg-type]

    client = Redis.from_url(redis_url)
    try:
        ttl_ms = await client.pttl(RedisCache.PREFIX + key)
        assert 0 < ttl_ms <= 120_000
        # the same chain, prompt and evidence is a hit, marked in the turn: no model asked
        cache = RedisCache(redis_url)
        again = ModelRuntime(settings.model_copy(update={"llm_model": "test:hang"}),
                             cache_get=cache)
        hang_key = await again.ask(role="summary", mode="summary", instructions="i",
                                   prompt=prompt, output_type=Word, evidence_digest="d")
        assert hang_key[1].status == "timeout", "another chain is another key"
        again = ModelRuntime(settings, cache_get=cache)
        output, turn = await again.ask(role="summary", mode="summary", instructions="i",
                                       prompt=prompt, output_type=Word, evidence_digest="d")
        assert turn.cached and turn.status == "accepted" and not again.pending
        assert output == asked[0]
        await cache.aclose()
        await client.delete(RedisCache.PREFIX + key)
    finally:
        await client.aclose()


async def test_a_redis_that_is_down_is_a_miss_not_a_failure() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0", timeout=0.2)
    settings = Settings(_env_file=None, llm_model="test:bogus")  # type: ignore[call-arg]
    output, turn = await ModelRuntime(settings, cache_get=cache).ask(
        role="summary", mode="summary", instructions="i", prompt="role: summary",
        output_type=Word, evidence_digest="d")
    assert turn.status == "accepted" and not turn.cached
    await store_answers(None, cache, [PendingCache(key="k", answer=CachedAnswer(  # type: ignore[arg-type]
        model="m", output={"summary": "s"}))], ttl_seconds=60)
