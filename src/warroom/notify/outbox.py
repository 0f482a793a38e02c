"""The outbox's write side: a decision change owes chat a notification, in its own transaction.

Imported by the decisions context, so it depends on nothing but the store.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.notify import repository
from warroom.notify.models import EVENT_KINDS


async def record(session: AsyncSession, *, decision_token: str, incident_id: str, event: str,
                 payload: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Owe the chat platforms a notification of `event`, in the caller's transaction."""
    if event not in EVENT_KINDS:
        return
    await repository.enqueue(
        session, decision_token=decision_token, incident_id=incident_id, event=event,
        payload=payload or {}, at=at or datetime.now(UTC),
    )
