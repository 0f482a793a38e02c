"""Turns at SQLite's write lock: ingestion's group commits first, a worker writer within a bound."""

from __future__ import annotations

import asyncio

from warroom.store.turns import WriteTurns


async def test_a_worker_writer_waits_while_ingestion_has_commits_queued() -> None:
    turns = WriteTurns(max_defer=3600)
    order: list[str] = []

    async def worker() -> None:
        async with turns.working():
            order.append("worker")

    turns.queued(1)
    waiting = asyncio.create_task(worker())
    for n in range(3):  # the storm's commits go on while the worker waits
        async with turns.ingesting():
            order.append(f"commit {n}")
        await asyncio.sleep(0.005)
    assert not waiting.done()
    turns.queued(0)  # the queue ran dry: the worker writes now
    await waiting
    assert order == ["commit 0", "commit 1", "commit 2", "worker"]


async def test_a_worker_writer_whose_wait_is_over_goes_before_the_next_commit() -> None:
    turns = WriteTurns(max_defer=0)
    order: list[str] = []
    turns.queued(1)

    async def worker() -> None:
        async with turns.working():
            order.append("worker in")
            await asyncio.sleep(0.01)
            order.append("worker out")

    async with turns.ingesting():  # a commit runs when the worker arrives
        waiting = asyncio.create_task(worker())
        await asyncio.sleep(0.005)
        order.append("commit 0")
    # asks for the turn the moment it is free, before the waiting worker looks again
    async with turns.ingesting():
        order.append("commit 1")
    await waiting
    # never together, and the next commit waited for the worker's turn
    assert order == ["commit 0", "worker in", "worker out", "commit 1"]


async def test_turns_hold_across_two_event_loops() -> None:
    """The API's loop ingests and DBOS's loop runs the worker: the turn is one for both."""
    turns = WriteTurns(max_defer=0)
    inside: list[str] = []
    overlap = False

    async def hold(who: str, enter: object) -> None:
        nonlocal overlap
        for _ in range(20):
            async with enter():  # type: ignore[operator]
                inside.append(who)
                overlap = overlap or len(inside) > 1
                await asyncio.sleep(0.001)
                inside.remove(who)

    worker = asyncio.to_thread(asyncio.run, hold("worker", turns.working))
    await asyncio.gather(worker, hold("ingest", turns.ingesting))
    assert not overlap and inside == []
