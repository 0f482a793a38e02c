"""Group commit: webhooks that arrive while a transaction runs share the next one.

Ingestion is serialised anyway (one database writer, one audit chain), so instead of queueing
transactions, concurrent webhooks queue their alerts: one writer task ingests everything
waiting in one transaction, tells the listeners, and answers every waiting request. Under load
this turns N transactions of fixed cost into one, and each request is still acknowledged only
after the commit that stored its alerts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.ingest.models import IncidentRef, IngestResult
from warroom.ingest.normalize import AlertRecord
from warroom.ingest.ports import IncidentListener
from warroom.ingest.service import ingest_groups

log = logging.getLogger(__name__)


@dataclass
class _Waiting:
    records: list[AlertRecord]
    answer: asyncio.Future[IngestResult]


class GroupCommitter:
    """Ingest concurrent webhooks together; at most `max_alerts` per transaction."""

    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        settings: Settings,
        listeners: Callable[[], list[IncidentListener]],
        *,
        max_alerts: int = 5000,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._listeners = listeners
        self._max_alerts = max_alerts
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, records: list[AlertRecord]) -> IngestResult:
        """Store these alerts (with whatever else is waiting) and return once committed."""
        waiting = _Waiting(records, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # a client that goes away must not cancel the answer the writer will set
        return await asyncio.shield(waiting.answer)

    async def _drain(self) -> None:
        while self._queue:
            await self._run(self._take())

    def _take(self) -> list[_Waiting]:
        taken: list[_Waiting] = []
        size = 0
        while self._queue and (not taken or size + len(self._queue[0].records) <= self._max_alerts):
            item = self._queue.pop(0)
            taken.append(item)
            size += len(item.records)
        return taken

    async def _run(self, taken: list[_Waiting]) -> None:
        try:
            async with self._sessions()() as session, session.begin():
                results = await ingest_groups(
                    session, [w.records for w in taken], settings=self._settings
                )
        except Exception as exc:
            for waiting in taken:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)
            return
        # listeners hear before the senders are answered: an acknowledged alert has been seen
        await self._notify(results)
        for waiting, result in zip(taken, results, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(result)

    async def _notify(self, results: list[IngestResult]) -> None:
        """Tell the listeners, once per transaction, which incidents changed."""
        merged: dict[str, IncidentRef] = {}
        for result in results:
            for ref in result.incidents:
                known = merged.get(ref.id)
                merged[ref.id] = ref if known is None or ref.created else known
        if not merged:
            return
        changed = list(merged.values())
        for listener in list(self._listeners()):
            try:
                await listener.incidents_changed(changed)
            except Exception:  # a listener must never fail an acknowledged ingest
                log.exception("incident listener %r failed", listener)
