"""No-op DBOS workflows for timing the engine itself.

`register` declares them anew before each launch: `engine.shutdown` drops DBOS's registry with
the workflows bound to it (see `warroom.workflow.incident.register`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from dbos import DBOS


async def noop_body() -> int:
    """Do nothing; the baseline a durable step is compared with."""
    return 1


@dataclass(frozen=True)
class Probe:
    """The probe's workflows: an empty one, and one running `count` no-op steps."""

    empty_workflow: Callable[[], Awaitable[int]]
    steps_workflow: Callable[[int], Awaitable[int]]


def register() -> Probe:
    """Register the probe's workflows with DBOS; call before `engine.launch`."""

    @DBOS.step(name="warroom.bench.noop")
    async def noop_step() -> int:
        return await noop_body()

    @DBOS.workflow(name="warroom.bench.empty")
    async def empty_workflow() -> int:
        return 0

    @DBOS.workflow(name="warroom.bench.steps")
    async def steps_workflow(count: int) -> int:
        total = 0
        for _ in range(count):
            total += await noop_step()
        return total

    return Probe(empty_workflow, steps_workflow)
