"""The notification outbox's write side: a decision change owes chat a notification.

Recorded in the caller's transaction, beside the audit log, so a change and the notification
it owes commit together; `notify` routes and delivers what is recorded here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import NotifyOutbox

# the decision moves the outbox records (a per-person approval records "approval")
EVENT_KINDS: frozenset[str] = frozenset(
    {"ready", "approval", "approved", "rejected", "expired", "executing", "verifying",
     "completed", "failed"}
)


async def record(session: AsyncSession, *, decision_token: str, incident_id: str, event: str,
                 payload: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Owe the chat platforms a notification of `event`, in the caller's transaction."""
    if event not in EVENT_KINDS:
        return
    session.add(NotifyOutbox(
        decision_token=decision_token, incident_id=incident_id, event=event,
        payload=payload or {}, created_at=at or datetime.now(UTC), status="pending",
    ))
    await session.flush()
