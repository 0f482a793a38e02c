"""SQL for playbooks (learned trust per fault and action type); the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import Playbook


async def all_playbooks(session: AsyncSession) -> Sequence[Playbook]:
    """Return every playbook, in no particular order."""
    return (await session.execute(select(Playbook))).scalars().all()


async def by_trust(session: AsyncSession) -> Sequence[Playbook]:
    """Return the playbooks, most trusted first (then by fault and action type)."""
    stmt = select(Playbook).order_by(Playbook.trust.desc(), Playbook.fault, Playbook.action_type)
    return (await session.execute(stmt)).scalars().all()


async def get(session: AsyncSession, fault: str, action_type: str) -> Playbook | None:
    """Return the playbook of one fault and action type, if it was ever learned."""
    return await session.get(Playbook, (fault, action_type))
