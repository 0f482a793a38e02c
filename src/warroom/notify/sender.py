"""The outbox sender: deliver owed notifications with retries and backoff, off the workflow.

A delivery is claimed by bumping its attempt count (compare-and-set), so two senders never
send the same one at once. Each success and each failure goes to the audit trail. Deliveries
to one card are sent in order: a failing one holds the later ones back until it succeeds or
is given up on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.decisions import service as decisions
from warroom.i18n.service import activate
from warroom.notify import render, repository
from warroom.notify.models import ChatEvent, MessageRef
from warroom.notify.ports import ChatAdapter
from warroom.notify.service import destinations
from warroom.store import audit
from warroom.store.db import transaction
from warroom.store.tables import Incident, NotifyDelivery, NotifyOutbox

log = structlog.get_logger(__name__)
BATCH = 200


def adapter_key(destination: str) -> tuple[str, str]:
    """Split `slack:C1` into the adapter's key and the target (`webhook:NAME` is one key)."""
    platform, _, target = destination.partition(":")
    return (destination if platform == "webhook" else platform), target


def backoff(settings: Settings, attempts: int) -> float:
    """Return the wait before the next try: exponential from the base, capped."""
    return min(settings.notify_retry_base_seconds * 2 ** max(attempts - 1, 0),
               settings.notify_retry_max_seconds)


class Sender:
    """Drains the outbox to the configured adapters."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings,
                 adapters: Mapping[str, ChatAdapter]) -> None:
        self.sessions = sessions
        self.settings = settings
        self.adapters = adapters
        # a flag, not only cancellation: `asyncio.wait_for` (Python 3.11) can swallow a cancel
        # that arrives as the awaited call finishes, and the loop would then run on
        self.stopping = False

    async def drain(self, *, now: datetime | None = None) -> int:
        """Route new outbox entries and try every due delivery once; return how many were sent."""
        now = now or datetime.now(UTC)
        activate(self.settings.language)  # cards and thread lines are for people
        await self._route(now)
        async with self.sessions() as session:
            pending = await repository.pending_deliveries(session, limit=BATCH)
        held: set[tuple[str, str]] = set()
        sent = 0
        for delivery, entry in pending:
            if self.stopping:
                break
            key = (entry.decision_token, delivery.destination)
            if key in held:
                continue
            if delivery.next_attempt_at > now:
                held.add(key)
                continue
            if await self._deliver(delivery, entry, now):
                sent += 1
            else:
                held.add(key)
        return sent

    async def _route(self, now: datetime) -> None:
        async with transaction(self.sessions) as session:
            for entry in await repository.unrouted(session, limit=BATCH):
                incident = await session.get(Incident, entry.incident_id)
                found = destinations(self.settings, namespace=incident.namespace,
                                     priority=incident.priority) if incident else []
                usable = [d for d in found if adapter_key(d)[0] in self.adapters]
                await repository.mark_routed(session, entry, usable, at=now)

    async def _deliver(self, delivery: NotifyDelivery, entry: NotifyOutbox, now: datetime
                       ) -> bool:
        lease = now + timedelta(seconds=self.settings.notify_send_timeout_seconds * 3)
        async with transaction(self.sessions) as session:
            if not await repository.claim(session, delivery.id, attempts=delivery.attempts,
                                          lease_until=lease):
                return False
        attempt = delivery.attempts + 1
        key, target = adapter_key(delivery.destination)
        adapter = self.adapters[key]
        try:
            async with self.sessions() as session:
                view = await decisions.get_view(session, entry.decision_token)
                incident = await session.get(Incident, entry.incident_id)
                stored = await repository.get_card(session, entry.decision_token,
                                                   delivery.destination)
            if incident is None:
                raise LookupError(f"incident {entry.incident_id} is gone")
            card = render.card(view, incident, timezone=self.settings.timezone)
            event = ChatEvent(outbox_id=entry.id, kind=entry.event, card=card,
                              note=render.note(entry.event, card, entry.payload))
            ref = MessageRef.model_validate(stored.ref) if stored else None
            timeout = self.settings.notify_send_timeout_seconds
            ref = await asyncio.wait_for(adapter.show(target, event, ref), timeout)
            async with transaction(self.sessions) as session:
                await repository.save_card(session, entry.decision_token, delivery.destination,
                                           ref.model_dump(), at=datetime.now(UTC))
            if event.note and adapter.threaded:
                await asyncio.wait_for(adapter.tell(target, ref, event.note), timeout)
        except Exception as exc:  # any platform failure: retry later, never raise to the loop
            await self._failed(delivery.id, entry, attempt, f"{type(exc).__name__}: {exc}")
            return False
        async with transaction(self.sessions) as session:
            row = await repository.get_delivery(session, delivery.id)
            row.status, row.sent_at, row.last_error = "sent", datetime.now(UTC), None
            await audit.append(
                session, kind="notify.sent", incident_id=entry.incident_id,
                decision_token=entry.decision_token,
                payload={"destination": delivery.destination, "event": entry.event,
                         "attempt": attempt, "outbox_id": entry.id},
            )
            await repository.close_if_delivered(session, entry.id)
        return True

    async def _failed(self, delivery_id: int, entry: NotifyOutbox, attempt: int, error: str
                      ) -> None:
        give_up = attempt >= self.settings.notify_max_attempts
        wait = backoff(self.settings, attempt)
        log.warning("notify.failed", destination_id=delivery_id, error=error, attempt=attempt)
        async with transaction(self.sessions) as session:
            row = await repository.get_delivery(session, delivery_id)
            row.last_error = error[:2000]
            if give_up:
                row.status = "failed"
            else:
                row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=wait)
            await audit.append(
                session, kind="notify.failed", incident_id=entry.incident_id,
                decision_token=entry.decision_token,
                payload={"destination": row.destination, "event": entry.event,
                         "attempt": attempt, "error": error[:2000], "gave_up": give_up,
                         "retry_in_seconds": None if give_up else wait},
            )
            await repository.close_if_delivered(session, entry.id)

    async def run(self) -> None:
        """Drain forever, every `notify_poll_seconds`; a failing pass is logged, not raised."""
        while not self.stopping:
            try:
                await self.drain()
            except Exception as exc:  # the database may be busy; try again next round
                log.warning("notify.drain_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(self.settings.notify_poll_seconds)

    async def aclose(self) -> None:
        """Close every adapter."""
        for adapter in self.adapters.values():
            await adapter.aclose()
