"""The worker's runtime: its write transactions on SQLite take turns in the process."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.config import Settings
from warroom.store import audit
from warroom.store.db import make_sessionmaker
from warroom.store.turns import WriteTurns
from warroom.workflow.runtime import runtime_like


async def test_write_transactions_take_turns_on_sqlite_and_commit(
    engine: AsyncEngine, settings: Settings
) -> None:
    runtime = await runtime_like(engine, settings)
    inside: list[int] = []
    most = 0

    async def write(n: int) -> None:
        nonlocal most
        async with runtime.writing() as session:
            inside.append(n)
            most = max(most, len(inside))
            await session.execute(text("SELECT 1"))
            await asyncio.sleep(0.01)  # another writer gets the loop meanwhile
            inside.remove(n)

    try:
        await asyncio.gather(*(write(n) for n in range(5)))
    finally:
        await runtime.dispose()
    assert inside == []
    # SQLite: one writer at a time; PostgreSQL queues its lock waiters itself
    assert most == (1 if engine.dialect.name == "sqlite" else 5)


async def test_a_debate_reads_freely_and_writes_after_the_storm_commits(
    engine: AsyncEngine, settings: Settings
) -> None:
    sqlite = engine.dialect.name == "sqlite"
    turns = WriteTurns(max_defer=3600)
    runtime = await runtime_like(engine, settings, turns=turns)
    steps: list[str] = []

    async def debate() -> None:
        async with runtime.writing_later() as session:
            await session.execute(text("SELECT 1"))
            steps.append("read")
            await audit.append(session, kind="test.debated", payload={})
            steps.append("wrote")

    turns.queued(1)  # ingestion has group commits queued
    try:
        task = asyncio.create_task(debate())
        while not steps:
            await asyncio.sleep(0.005)
        if sqlite:
            await asyncio.sleep(0.05)  # time enough to write, were it not waiting for its turn
            assert steps == ["read"]
            turns.queued(0)
        # PostgreSQL queues its lock waiters itself: the debate writes without waiting
        await task
    finally:
        await runtime.dispose()
    assert steps == ["read", "wrote"]
    async with make_sessionmaker(engine)() as session:
        assert [e.kind for e in await audit.list_events(session)] == ["test.debated"]
