"""Workers that need no configuration: identity, heartbeats, and takeover of a dead worker.

Every worker writes a heartbeat to the application database every `worker_heartbeat_seconds`.
A worker silent for `worker_takeover_seconds` (or one that stopped cleanly) is claimed by one
live worker, which hands its pending workflows back to the queues through DBOS recovery; any
worker then resumes them from their last completed step. DBOS re-enqueues only rows still
PENDING under the dead executor's id, so a repeated or concurrent recovery starts nothing twice.

A starting worker beats from the moment it registers, while DBOS launches (which can take longer
than the bound on a loaded machine), so nobody judges it dead before it had the chance to beat;
it sweeps for dead workers only once DBOS runs (`ready`), since recovery needs DBOS.

A worker whose heartbeat finds it declared dead (it was paused or cut off from the database
longer than the bound) has lost its workflows to another worker: it exits at once (`fenced`)
rather than keep running them, and its supervisor starts a fresh process with a new id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.config import Settings
from warroom.store.db import make_sessionmaker, transaction
from warroom.workflow import repository
from warroom.workflow.dbos_gaps import recover_pending

log = logging.getLogger(__name__)

# rows of workers recovered longer ago than this are deleted
FORGET_AFTER_SECONDS = 24 * 3600
FENCED_EXIT_CODE = 75


def worker_identity(settings: Settings) -> str:
    """Return this process's executor id: the configured one, else pod or host, pid, random."""
    if settings.worker_id:
        return settings.worker_id
    base = settings.pod_name or f"{socket.gethostname()}-{os.getpid()}"
    return f"{base}-{secrets.token_hex(3)}"


def _exit_fenced(worker_id: str) -> None:
    log.error("worker %s was declared dead and its workflows taken over: exiting", worker_id)
    os._exit(FENCED_EXIT_CODE)


class Fleet:
    """This worker's membership in the fleet: its heartbeat and its takeover sweeps."""

    def __init__(
        self,
        settings: Settings,
        engine: AsyncEngine,
        worker_id: str,
        *,
        on_fenced: Callable[[str], None] = _exit_fenced,
        recoverer: Callable[[list[str]], int] = recover_pending,
    ) -> None:
        self.settings = settings
        self.engine = engine  # its own, so heartbeats never wait behind the steps' pool
        self.sessions = make_sessionmaker(engine)
        self.worker_id = worker_id
        self.on_fenced = on_fenced
        self.recoverer = recoverer
        self.taken_over: dict[str, int] = {}
        self._last_failure: float | None = None
        self._sweeping = False
        self._task: asyncio.Task[None] | None = None

    async def join(self) -> None:
        """Record this worker as alive (before DBOS starts dequeuing in its name)."""
        async with transaction(self.sessions) as session:
            await repository.register(session, self.worker_id, host=socket.gethostname(),
                                      pid=os.getpid(), now=time.time())

    def start(self) -> None:
        """Heartbeat in the background on the running event loop (right after `join`)."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="warroom-fleet")

    def ready(self) -> None:
        """DBOS runs: from now on every heartbeat also sweeps for dead workers."""
        self._sweeping = True

    def stop_beating(self) -> None:
        """Stop the heartbeat task (the row keeps its last beat until `leave`)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def leave(self) -> None:
        """Stop heartbeating and mark this worker stopped, so others take its workflows now."""
        self.stop_beating()
        try:
            async with transaction(self.sessions) as session:
                await repository.stopped(session, self.worker_id, time.time())
        except Exception as exc:  # the database is away: the others see the heartbeat stop
            log.warning("could not mark worker %s stopped: %s", self.worker_id, exc)
        await self.engine.dispose()

    async def _run(self) -> None:
        while True:
            await self.tick()
            await asyncio.sleep(self.settings.worker_heartbeat_seconds)

    async def tick(self) -> list[str]:
        """Beat once, then (once `ready`) take over the workers found dead; return their ids."""
        now = time.time()
        try:
            async with transaction(self.sessions) as session:
                alive = await repository.beat(session, self.worker_id, now)
        except Exception as exc:  # keep beating: the database may come back
            self._last_failure = now
            log.warning("worker %s could not record its heartbeat: %s", self.worker_id, exc)
            return []
        if not alive:
            self.on_fenced(self.worker_id)
            return []
        if not self._sweeping:
            return []
        bound = self.settings.worker_takeover_seconds
        # after losing the database, everyone's heartbeat looks stale: give the others one
        # bound to beat again before declaring any of them dead
        if self._last_failure is not None and now - self._last_failure < bound:
            return []
        try:
            return await self._sweep(now, now - bound)
        except Exception as exc:
            self._last_failure = now
            log.warning("worker %s could not sweep for dead workers: %s", self.worker_id, exc)
            return []

    async def _sweep(self, now: float, cutoff: float) -> list[str]:
        async with transaction(self.sessions) as session:
            candidates = await repository.orphaned(session, cutoff, exclude=self.worker_id)
            await repository.prune(session, now - FORGET_AFTER_SECONDS)
        taken: list[str] = []
        for dead in candidates:
            async with transaction(self.sessions) as session:
                won = await repository.claim(session, dead, by=self.worker_id, now=now,
                                             cutoff=cutoff)
            if not won:
                continue
            count = await asyncio.to_thread(self.recoverer, [dead])
            async with transaction(self.sessions) as session:
                await repository.recovered(session, dead, by=self.worker_id, count=count)
            self.taken_over[dead] = count
            taken.append(dead)
            log.warning("worker %s took over %d workflow(s) of worker %s",
                        self.worker_id, count, dead)
        return taken
