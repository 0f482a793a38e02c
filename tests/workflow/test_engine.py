"""The workflow client against a real DBOS system database (SQLite, and PostgreSQL if reachable)."""

from __future__ import annotations

import asyncio
import uuid

from warroom.config import Settings
from warroom.workflow import engine
from warroom.workflow.engine import RoundStart, WorkflowClient


async def test_a_batch_of_rounds_is_enqueued_and_a_repeat_attaches(settings: Settings) -> None:
    await asyncio.to_thread(engine.migrate_system_database, settings)
    client = await asyncio.to_thread(WorkflowClient, settings)
    run = uuid.uuid4().hex[:8]  # PostgreSQL's system schema outlives the test
    ids = [f"incident:{run}-{i}:1" for i in range(5)]
    try:
        rounds = [RoundStart(f"{run}-{i}", ids[i]) for i in range(3)]
        await client.enqueue_incidents(rounds)
        # a repeat (another process enqueued it too) attaches: no error, nothing new
        await client.enqueue_incidents([rounds[0], RoundStart(f"{run}-3", ids[3])])
        statuses = [await client.status(workflow_id) for workflow_id in ids]
    finally:
        await asyncio.to_thread(client.close)
    assert statuses == ["ENQUEUED"] * 4 + [None]
