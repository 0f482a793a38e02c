"""SQL of the language-model context: the response cache and the per-turn usage records."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.agents.models import ModelTurn
from warroom.config import Settings
from warroom.llm.models import CachedAnswer, PendingCache, UsageTotals
from warroom.store.tables import LLMCacheEntry, LLMTurnRow


class CacheReader:
    """Read the response cache through one session, one query at a time (turns run in
    parallel; a session does not)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._lock = asyncio.Lock()

    async def __call__(self, key: str) -> CachedAnswer | None:
        """Return the live cache entry for `key`, if any."""
        async with self._lock:
            row = await self._session.get(LLMCacheEntry, key)
        if row is None or row.expires_at <= datetime.now(UTC):
            return None
        return CachedAnswer(model=row.model, output=row.output, input_tokens=row.input_tokens,
                            output_tokens=row.output_tokens)


class RedisCache:
    """The response cache in Redis: the same keys, each entry expiring after the TTL.

    A Redis that is down or slow is a cache miss (and a lost write), never a failed turn.
    """

    PREFIX = "warroom:llm-cache:"

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        # lazy: cold import cost (python -X importtime): redis.asyncio ~480 ms; kept off the
        # module's import path
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=timeout,
                                     socket_connect_timeout=timeout)

    async def __call__(self, key: str) -> CachedAnswer | None:
        """Return the live cache entry for `key`, if any."""
        raw = await self._redis.get(self.PREFIX + key)
        return None if raw is None else CachedAnswer.model_validate_json(raw)

    async def save(self, pending: list[PendingCache], *, ttl_seconds: float) -> None:
        """Store fresh answers, each expiring `ttl_seconds` from now."""
        if not pending or ttl_seconds <= 0:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for p in pending:
                pipe.set(self.PREFIX + p.key, p.answer.model_dump_json(),
                         px=max(1, int(ttl_seconds * 1000)))
            await pipe.execute()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def cache_reader(session: AsyncSession, settings: Settings) -> CacheReader | RedisCache:
    """Return the response cache the settings choose: Redis when configured, else the
    database."""
    if settings.llm_cache_in_redis:
        return RedisCache(settings.redis_url)
    return CacheReader(session)


async def store_answers(session: AsyncSession, cache: object, pending: list[PendingCache], *,
                        ttl_seconds: float) -> None:
    """Store an analysis's fresh answers where its cache reads them; close a Redis cache."""
    if not isinstance(cache, RedisCache):
        await save_cache(session, pending, ttl_seconds=ttl_seconds)
        return
    try:
        await cache.save(pending, ttl_seconds=ttl_seconds)
    except Exception:  # a lost cache write costs one repeated question, nothing else
        pass
    finally:
        await cache.aclose()


async def save_cache(session: AsyncSession, pending: list[PendingCache], *,
                     ttl_seconds: float, now: datetime | None = None) -> None:
    """Store fresh answers, replacing expired entries of the same question."""
    if not pending or ttl_seconds <= 0:
        return
    now = now or datetime.now(UTC)
    keys = list({p.key for p in pending})
    await session.execute(delete(LLMCacheEntry).where(LLMCacheEntry.key.in_(keys)))
    seen: set[str] = set()
    for p in pending:
        if p.key in seen:
            continue
        seen.add(p.key)
        session.add(LLMCacheEntry(
            key=p.key, model=p.answer.model, output=p.answer.output,
            input_tokens=p.answer.input_tokens, output_tokens=p.answer.output_tokens,
            created_at=now, expires_at=now + timedelta(seconds=ttl_seconds)))


async def save_turns(session: AsyncSession, *, incident_id: str, session_id: str,
                     turns: list[tuple[str, ModelTurn]], now: datetime | None = None) -> None:
    """Store the usage record of every (role, model turn) of an analysis."""
    now = now or datetime.now(UTC)
    for role, m in turns:
        session.add(LLMTurnRow(
            incident_id=incident_id, session_id=session_id, role=role, mode=m.mode,
            status=m.status, reason=m.reason[:2000], model=m.model[:256], cached=m.cached,
            input_tokens=m.input_tokens, output_tokens=m.output_tokens, cost_usd=m.cost_usd,
            latency_ms=m.latency_ms, at=now))


async def usage_for(session: AsyncSession, incident_id: str) -> dict[str, Any]:
    """Return an incident's model turns and their totals, for the API and the incident page."""
    rows = (await session.scalars(select(LLMTurnRow).where(
        LLMTurnRow.incident_id == incident_id).order_by(LLMTurnRow.id))).all()
    totals = (await session.execute(select(
        func.count(LLMTurnRow.id), func.coalesce(func.sum(LLMTurnRow.input_tokens), 0),
        func.coalesce(func.sum(LLMTurnRow.output_tokens), 0),
        func.coalesce(func.sum(LLMTurnRow.cost_usd), 0.0)).where(
        LLMTurnRow.incident_id == incident_id))).one()
    usage = UsageTotals(turns=int(totals[0]), cached=sum(1 for r in rows if r.cached),
                        input_tokens=int(totals[1]), output_tokens=int(totals[2]),
                        cost_usd=round(float(totals[3]), 6))
    return {"totals": usage.model_dump(), "turns": [
        {"session_id": r.session_id, "role": r.role, "mode": r.mode, "status": r.status,
         "reason": r.reason, "model": r.model, "cached": r.cached,
         "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
         "cost_usd": r.cost_usd, "latency_ms": r.latency_ms,
         "at": r.at.isoformat()} for r in rows]}
