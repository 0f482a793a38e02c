"""Group commit: webhooks that arrive while a transaction runs share the next one.

Ingestion is serialised anyway (one database writer, one audit chain), so instead of queueing
transactions, concurrent webhooks queue their alerts: one writer task ingests everything
waiting in one transaction and answers every waiting request, then queues what the listeners
must hear for a notifier task. Under load this turns N transactions of fixed cost into one, and
each request is still acknowledged only after the commit that stored its alerts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import structlog
from opentelemetry.context import Context
from opentelemetry.trace import Link
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.ingest.models import IncidentRef, IngestResult
from warroom.ingest.normalize import AlertRecord
from warroom.ingest.ports import IncidentListener
from warroom.ingest.service import ingest_groups
from warroom.observe.metrics import BATCH_ALERTS, BATCH_WEBHOOKS, COMMIT_SECONDS
from warroom.observe.tracing import current_span_context, tracer
from warroom.store.turns import WriteTurns

log = structlog.get_logger(__name__)


@dataclass
class _Waiting:
    records: list[AlertRecord]
    answer: asyncio.Future[IngestResult]
    span: Any = None  # the webhook's span context, when traced


class GroupCommitter:
    """Ingest concurrent webhooks together; at most `max_alerts` per transaction."""

    def __init__(
        self,
        sessions: Callable[[], async_sessionmaker[AsyncSession]],
        settings: Settings,
        listeners: Callable[[], list[IncidentListener]],
        *,
        max_alerts: int = 5000,
        turns: WriteTurns | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._listeners = listeners
        self._max_alerts = max_alerts
        self._turns = turns  # SQLite: the process's other writers wait while we have work
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None
        self._notifier: asyncio.Task[None] | None = None
        self._resent: dict[str, IncidentRef] = {}
        self._changes: list[IncidentRef] = []
        self._wake = asyncio.Event()  # a change is queued: stop waiting for the re-send interval
        self._next_resend = 0.0

    async def submit(self, records: list[AlertRecord]) -> IngestResult:
        """Store these alerts (with whatever else is waiting) and return once committed."""
        waiting = _Waiting(
            records, asyncio.get_running_loop().create_future(), current_span_context()
        )
        self._queue.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        # a client that goes away must not cancel the answer the writer will set
        return await asyncio.shield(waiting.answer)

    async def _drain(self) -> None:
        if self._turns is not None:
            self._turns.queued(1)
        try:
            while self._queue:
                await self._run(self._take())
        finally:
            if self._turns is not None:
                self._turns.queued(0)

    def _take(self) -> list[_Waiting]:
        taken: list[_Waiting] = []
        size = 0
        while self._queue and (not taken or size + len(self._queue[0].records) <= self._max_alerts):
            item = self._queue.pop(0)
            taken.append(item)
            size += len(item.records)
        return taken

    async def _run(self, taken: list[_Waiting]) -> None:
        alerts = sum(len(w.records) for w in taken)
        started = time.perf_counter()
        # a root span of its own, linked to every webhook it stores: the writer task would
        # otherwise carry the first request's context for all the batches after it
        links = [Link(w.span) for w in taken if w.span is not None]
        with tracer().start_as_current_span(
            "warroom.ingest.commit", context=Context(), links=links,
            attributes={"webhooks": len(taken), "alerts": alerts},
        ):
            try:
                async with self._turn(), self._sessions()() as session, session.begin():
                    results = await ingest_groups(
                        session, [w.records for w in taken], settings=self._settings
                    )
            except Exception as exc:
                for waiting in taken:
                    if not waiting.answer.done():
                        waiting.answer.set_exception(exc)
                return
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        BATCH_WEBHOOKS.observe(len(taken))
        BATCH_ALERTS.observe(alerts)
        for waiting, result in zip(taken, results, strict=True):
            if waiting.span is not None:
                for ref in result.incidents:
                    ref.traced_by(waiting.span)
            if not waiting.answer.done():
                waiting.answer.set_result(result)
        self._notify(results)

    def _turn(self) -> AbstractAsyncContextManager[None]:
        return self._turns.ingesting() if self._turns is not None else nullcontext()

    def _notify(self, results: list[IngestResult]) -> None:
        """Queue what the listeners must hear; a background task tells them, in order.

        Listeners never delay an acknowledgement: a slow one (the workflow listener queries and
        enqueues per incident) would otherwise throttle an alert storm to its own pace. Opened,
        re-opened, escalated and resolved incidents are told in order; incidents that only
        received re-sent alerts are coalesced to one entry each (the newest state) and told at
        most once per `listener_resend_interval_seconds`, so the backlog stays bounded by the
        number of incidents and a storm of re-sends costs the listeners little.
        """
        for result in results:
            for ref in result.incidents:
                if ref.changed or ref.created:
                    self._resent.pop(ref.id, None)
                    self._changes.append(ref)
                    self._wake.set()
                else:
                    self._resent[ref.id] = ref
        if (self._changes or self._resent) and (self._notifier is None or self._notifier.done()):
            self._notifier = asyncio.create_task(self._drain_notifications())

    async def _drain_notifications(self) -> None:
        loop = asyncio.get_running_loop()
        while self._changes or self._resent:
            if self._changes:
                pending, self._changes = self._changes, []
                await self._tell(pending)
                continue
            # re-sends only say "still firing": tell them at most once per interval
            wait = self._next_resend - loop.time()
            if wait > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), wait)
                except TimeoutError:
                    pass
                continue
            pending, self._resent = list(self._resent.values()), {}
            self._next_resend = loop.time() + self._settings.listener_resend_interval_seconds
            await self._tell(pending)

    async def idle(self) -> None:
        """Wait until every queued alert is stored and every listener told (tests, shutdown)."""
        while True:
            task = next(
                (t for t in (self._writer, self._notifier) if t is not None and not t.done()),
                None,
            )
            if task is None:
                return
            await asyncio.shield(task)

    async def _tell(self, refs: list[IncidentRef]) -> None:
        for listener in list(self._listeners()):
            try:
                await listener.incidents_changed(refs)
            except Exception:  # a listener must never fail an acknowledged ingest
                log.exception("ingest.listener_failed", listener=repr(listener))

    async def aclose(self, timeout: float = 10.0) -> None:
        """Finish the queued work (at shutdown), cancelling what is left after `timeout`."""
        try:
            await asyncio.wait_for(self.idle(), timeout)
        except TimeoutError:
            log.warning("ingest.shutdown_dropping_queued_work", after_seconds=timeout)
        for task in (self._writer, self._notifier):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
