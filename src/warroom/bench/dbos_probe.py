"""No-op DBOS workflows for timing the engine itself (registered when the bench imports it)."""

from __future__ import annotations

from dbos import DBOS


async def noop_body() -> int:
    """Do nothing; the baseline a durable step is compared with."""
    return 1


@DBOS.step(name="warroom.bench.noop")
async def noop_step() -> int:
    """Do nothing durably."""
    return await noop_body()


@DBOS.workflow(name="warroom.bench.empty")
async def empty_workflow() -> int:
    """Start and finish: the cost of a workflow alone."""
    return 0


@DBOS.workflow(name="warroom.bench.steps")
async def steps_workflow(count: int) -> int:
    """Run `count` no-op steps."""
    total = 0
    for _ in range(count):
        total += await noop_step()
    return total
