"""Turns at SQLite's one write lock among this process's writers: ingestion goes first.

SQLite lets one transaction write at a time. A writer that finds the lock taken sleeps in
SQLite's busy handler, and whoever wakes first wins, so under an alert storm the embedded
worker's writers (decisions, debate records, closing records) kept taking the lock between
two group commits while every webhook waited for the next one. Here the process decides the
order instead: while ingestion has a group commit queued or running, a worker writer waits
in the process (not in SQLite) for at most `max_defer` seconds; once it has waited that long,
it writes before ingestion's next commit. So a storm is acknowledged at nearly the pace of a
process without a worker, and decisions still move, at least one write per `max_defer`.

Writers in other processes and the API's own rare writes are not coordinated here; SQLite
still serialises them, and ingestion asks for the lock eagerly (`audit.lock_chain`). Other
databases queue lock waiters fairly: the composition root makes turns for SQLite only.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

POLL_S = 0.001  # how often a waiting writer looks again (the two sides run on two loops)

Holder = Literal["ingest", "worker"]


class WriteTurns:
    """Who writes next to one SQLite database in this process: ingestion, within a bound."""

    def __init__(self, *, max_defer: float) -> None:
        self.max_defer = max_defer
        self._mutex = threading.Lock()  # the ingest side and the worker run on two threads
        self._holder: Holder | None = None
        self._queued = 0  # group commits queued or running
        self._due = 0  # worker writers that waited `max_defer` and go before the next commit

    def queued(self, count: int) -> None:
        """Say how many group commits ingestion has queued or running (0: idle)."""
        with self._mutex:
            self._queued = count

    @asynccontextmanager
    async def ingesting(self) -> AsyncIterator[None]:
        """Hold the turn for one group commit; a worker writer whose wait is over goes first."""
        while not self._take("ingest"):
            await asyncio.sleep(POLL_S)
        try:
            yield
        finally:
            self._give_back()

    @asynccontextmanager
    async def working(self) -> AsyncIterator[None]:
        """Hold the turn for one worker transaction, after ingestion's queue or `max_defer`."""
        deadline = time.monotonic() + self.max_defer
        due = False
        try:
            while True:
                if not due and time.monotonic() >= deadline:
                    due = True
                    with self._mutex:
                        self._due += 1
                if self._take("worker", due=due):
                    break
                await asyncio.sleep(POLL_S)
        finally:
            if due:
                with self._mutex:
                    self._due -= 1
        try:
            yield
        finally:
            self._give_back()

    def _take(self, who: Holder, *, due: bool = False) -> bool:
        with self._mutex:
            if self._holder is not None:
                return False
            if who == "ingest" and self._due:
                return False
            if who == "worker" and self._queued and not due:
                return False
            self._holder = who
            return True

    def _give_back(self) -> None:
        with self._mutex:
            self._holder = None
