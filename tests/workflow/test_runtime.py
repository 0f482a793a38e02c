"""The worker's runtime: its write transactions on SQLite take turns in the process."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.config import Settings
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
