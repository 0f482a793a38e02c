"""The workflow client against a real DBOS system database (SQLite)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from warroom.config import Settings
from warroom.workflow import engine
from warroom.workflow.engine import RoundStart, WorkflowClient


async def test_a_batch_of_rounds_is_enqueued_and_a_repeat_attaches(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        home=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}",
        _env_file=None,
    )
    await asyncio.to_thread(engine.migrate_system_database, settings)
    client = await asyncio.to_thread(WorkflowClient, settings)
    try:
        rounds = [RoundStart(f"inc{i}", f"incident-inc{i}-1") for i in range(3)]
        await client.enqueue_incidents(rounds)
        # a repeat (another process enqueued it too) attaches: no error, nothing new
        await client.enqueue_incidents([rounds[0], RoundStart("inc3", "incident-inc3-1")])
        statuses = [await client.status(f"incident-inc{i}-1") for i in range(5)]
    finally:
        await asyncio.to_thread(client.close)
    assert statuses == ["ENQUEUED"] * 4 + [None]
