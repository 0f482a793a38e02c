"""SQL for the notification outbox, its deliveries, card references and seen callbacks.

The caller owns the transaction. Entries are written by `store.outbox.record`, inside the
transaction of the decision change they announce, so a notification is owed exactly when the
change is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import NotifyCallback, NotifyCard, NotifyDelivery, NotifyOutbox


async def unrouted(session: AsyncSession, *, limit: int) -> Sequence[NotifyOutbox]:
    """Return the oldest outbox entries not yet split into deliveries."""
    # PostgreSQL: two senders (two `serve` replicas) route disjoint entries
    stmt = (select(NotifyOutbox).where(NotifyOutbox.status == "pending")
            .order_by(NotifyOutbox.id).limit(limit).with_for_update(skip_locked=True))
    return (await session.execute(stmt)).scalars().all()


async def mark_routed(session: AsyncSession, entry: NotifyOutbox, destinations: list[str],
                      *, at: datetime) -> None:
    """Create one delivery per destination; an entry with none is done at once."""
    for destination in destinations:
        session.add(NotifyDelivery(outbox_id=entry.id, destination=destination,
                                   status="pending", attempts=0, next_attempt_at=at))
    entry.status = "routed" if destinations else "done"
    await session.flush()


async def pending_deliveries(
    session: AsyncSession, *, limit: int
) -> Sequence[tuple[NotifyDelivery, NotifyOutbox]]:
    """Return pending deliveries with their outbox entries, oldest entry first."""
    stmt = (select(NotifyDelivery, NotifyOutbox)
            .join(NotifyOutbox, NotifyOutbox.id == NotifyDelivery.outbox_id)
            .where(NotifyDelivery.status == "pending")
            .order_by(NotifyDelivery.outbox_id, NotifyDelivery.id).limit(limit))
    return [(d, o) for d, o in (await session.execute(stmt)).all()]


async def claim(session: AsyncSession, delivery_id: int, *, attempts: int,
                lease_until: datetime) -> bool:
    """Take a delivery for one attempt, until `lease_until`; False when another sender has it."""
    result = await session.execute(
        update(NotifyDelivery)
        .where(NotifyDelivery.id == delivery_id, NotifyDelivery.status == "pending",
               NotifyDelivery.attempts == attempts)
        .values(attempts=attempts + 1, next_attempt_at=lease_until)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def close_if_delivered(session: AsyncSession, outbox_id: int) -> None:
    """Mark an outbox entry done once none of its deliveries is pending any more."""
    rows = await deliveries_of(session, outbox_id)
    if all(d.status != "pending" for d in rows):
        entry = await session.get(NotifyOutbox, outbox_id)
        if entry is not None:
            entry.status = "done"
            await session.flush()


async def get_delivery(session: AsyncSession, delivery_id: int) -> NotifyDelivery:
    """Return a delivery by id."""
    delivery = await session.get(NotifyDelivery, delivery_id)
    if delivery is None:
        raise LookupError(f"no notification delivery {delivery_id}")
    return delivery


async def deliveries_of(session: AsyncSession, outbox_id: int) -> Sequence[NotifyDelivery]:
    """Return every delivery of one outbox entry."""
    stmt = select(NotifyDelivery).where(NotifyDelivery.outbox_id == outbox_id)
    return (await session.execute(stmt)).scalars().all()


async def get_card(session: AsyncSession, token: str, destination: str) -> NotifyCard | None:
    """Return the reference of a decision's card at a destination, if it was posted."""
    return await session.get(NotifyCard, (token, destination))


async def save_card(session: AsyncSession, token: str, destination: str, ref: dict[str, Any],
                    *, at: datetime) -> None:
    """Store (or refresh) where a decision's card lives at a destination."""
    card = await session.get(NotifyCard, (token, destination))
    if card is None:
        session.add(NotifyCard(decision_token=token, destination=destination, ref=ref,
                               updated_at=at))
    else:
        card.ref = ref
        card.updated_at = at
    await session.flush()


async def remember_callback(session: AsyncSession, key: str, platform: str,
                            *, at: datetime) -> bool:
    """Record a callback as acted on; False when the same one was seen before (a replay)."""
    if await session.get(NotifyCallback, key) is not None:
        return False
    try:
        async with session.begin_nested():
            session.add(NotifyCallback(key=key, platform=platform, received_at=at))
    except IntegrityError:  # the same callback, committed by a concurrent request
        return False
    return True
