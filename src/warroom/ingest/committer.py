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
        self._notifier: asyncio.Task[None] | None = None
        self._resent: dict[str, IncidentRef] = {}

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
        """Tell the listeners what changed before answering; plain re-sends in the background.

        Opened, re-opened, escalated and resolved incidents are told before the senders get
        their answer. Incidents that only received re-sent alerts are coalesced (one entry per
        incident, the newest state) and told by a background task, so a slow listener cannot
        slow down acknowledgements during an alert storm.
        """
        urgent: dict[str, IncidentRef] = {}
        for result in results:
            for ref in result.incidents:
                if ref.changed or ref.created:
                    known = urgent.get(ref.id)
                    urgent[ref.id] = ref if known is None or ref.created else known
                else:
                    self._resent[ref.id] = ref
        for incident_id in urgent:
            self._resent.pop(incident_id, None)
        if urgent:
            await self._tell(list(urgent.values()))
        if self._resent and (self._notifier is None or self._notifier.done()):
            self._notifier = asyncio.create_task(self._drain_resent())

    async def _drain_resent(self) -> None:
        while self._resent:
            pending, self._resent = list(self._resent.values()), {}
            await self._tell(pending)

    async def _tell(self, refs: list[IncidentRef]) -> None:
        for listener in list(self._listeners()):
            try:
                await listener.incidents_changed(refs)
            except Exception:  # a listener must never fail an acknowledged ingest
                log.exception("incident listener %r failed", listener)

    async def aclose(self) -> None:
        """Stop the background tasks (at shutdown)."""
        for task in (self._writer, self._notifier):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
