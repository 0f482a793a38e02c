"""The worker fleet: identities, heartbeats, takeover of dead workers, fencing of revived ones."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.store.db import transaction
from warroom.store.tables import WorkerRow
from warroom.workflow import engine as workflow_engine
from warroom.workflow import repository
from warroom.workflow.fleet import Fleet, worker_identity
from warroom.workflow.runtime import Runtime, runtime_like


class Recorder:
    """Stands in for DBOS recovery: records whose workflows were handed back."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, worker_ids: list[str]) -> int:
        self.calls.append(worker_ids)
        return 2


def fleet(settings: Settings, engine: AsyncEngine, worker_id: str,
          fenced: list[str], recorder: Recorder) -> Fleet:
    """A worker whose DBOS runs: its heartbeats also sweep."""
    member = Fleet(settings, engine, worker_id, on_fenced=fenced.append, recoverer=recorder)
    member.ready()
    return member


async def age(sessions: async_sessionmaker[AsyncSession], worker_id: str, seconds: float) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(WorkerRow).where(WorkerRow.id == worker_id)
                              .values(heartbeat_at=time.time() - seconds))


def test_identity_is_automatic_unique_and_follows_the_pod_name(settings: Settings) -> None:
    a, b = worker_identity(settings), worker_identity(settings)
    assert a != b and a.rsplit("-", 1)[0] == b.rsplit("-", 1)[0]
    pod = settings.model_copy(update={"pod_name": "warroom-worker-7d9f-x2"})
    assert worker_identity(pod).startswith("warroom-worker-7d9f-x2-")
    fixed = settings.model_copy(update={"worker_id": "only-worker"})
    assert worker_identity(fixed) == "only-worker"


def test_takeover_bound_must_outlast_two_heartbeats() -> None:
    with pytest.raises(ValueError, match="must exceed two heartbeats"):
        Settings(worker_heartbeat_seconds=5, worker_takeover_seconds=8,  # type: ignore[call-arg]
                 _env_file=None)


async def test_a_silent_worker_is_taken_over_once_and_fenced_when_it_revives(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fenced: list[str] = []
    recorder = Recorder()
    live = fleet(settings, engine, "live", fenced, recorder)
    other = fleet(settings, engine, "other", fenced, recorder)
    dead = fleet(settings, engine, "dead", fenced, recorder)
    for f in (live, other, dead):
        await f.join()
    assert await live.tick() == []  # everyone beats: nobody is taken over
    await age(sessions, "dead", settings.worker_takeover_seconds + 1)
    assert await live.tick() == ["dead"]
    assert await other.tick() == []  # the claim is won once
    assert recorder.calls == [["dead"]]
    async with sessions() as session:
        rows = {w.id: w for w in await repository.workers(session)}
    assert rows["dead"].state == "recovered" and rows["dead"].taken_over_by == "live"
    assert rows["dead"].recovered == 2
    # the dead worker was only paused: its next heartbeat finds it replaced, and it stops
    await dead.tick()
    assert fenced == ["dead"]


async def test_a_worker_that_stopped_cleanly_is_taken_over_at_once(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fenced: list[str] = []
    recorder = Recorder()
    live = fleet(settings, engine, "live", fenced, recorder)
    leaving = fleet(settings, engine, "leaving", fenced, recorder)
    await live.join()
    await leaving.join()
    await leaving.leave()
    assert await live.tick() == ["leaving"]
    assert fenced == []


async def test_no_takeover_right_after_losing_the_database(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fenced: list[str] = []
    recorder = Recorder()
    live = fleet(settings, engine, "live", fenced, recorder)
    await live.join()
    await fleet(settings, engine, "slow", fenced, recorder).join()
    await age(sessions, "slow", settings.worker_takeover_seconds + 1)
    broken = fleet(settings, engine, "live", fenced, recorder)
    broken.sessions = _failing_sessions  # type: ignore[assignment]
    assert await broken.tick() == []  # the database is away: nothing, and no crash
    live._last_failure = broken._last_failure
    # back: the others get one bound to beat again before anyone is declared dead
    assert await live.tick() == []
    live._last_failure = time.time() - settings.worker_takeover_seconds - 1
    assert await live.tick() == ["slow"]


async def test_a_starting_worker_beats_while_dbos_launches_and_is_not_taken_over(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = settings.model_copy(update={"worker_heartbeat_seconds": 0.05,
                                       "worker_takeover_seconds": 0.3, "worker_id": "starting"})
    fenced: list[str] = []
    recorder = Recorder()
    live = fleet(fast, engine, "live", fenced, recorder)
    await live.join()
    swept: list[str] = []

    def slow_launch(_: Runtime) -> None:
        # DBOS taking three takeover bounds to launch; a live worker sweeps meanwhile, and a
        # starting worker must not sweep itself (recovery needs DBOS)
        for _ in range(9):
            time.sleep(0.1)
            swept.extend(asyncio.run_coroutine_threadsafe(live.tick(), loop).result())

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(workflow_engine, "launch", slow_launch)
    monkeypatch.setattr(workflow_engine, "shutdown", lambda _: None)
    worker = await workflow_engine.launch_async(await runtime_like(engine, fast))
    starting = worker.fleet
    try:
        assert swept == [] and fenced == [] and recorder.calls == []
        async with sessions() as session:
            rows = {w.id: w for w in await repository.workers(session)}
        assert rows["starting"].state == "alive"
        assert await starting.tick() == []  # ready now: its own sweep runs and finds nobody
        assert fenced == []
    finally:
        await workflow_engine.shutdown_async(worker)


async def test_a_starting_worker_does_not_sweep_before_dbos_runs(
    settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fenced: list[str] = []
    recorder = Recorder()
    await fleet(settings, engine, "gone", fenced, recorder).join()
    await age(sessions, "gone", settings.worker_takeover_seconds + 1)
    starting = Fleet(settings, engine, "starting", on_fenced=fenced.append, recoverer=recorder)
    await starting.join()
    assert await starting.tick() == []  # no DBOS yet to hand the workflows back through
    starting.ready()
    assert await starting.tick() == ["gone"]


def _failing_sessions() -> AsyncSession:
    raise OSError("connection refused")
