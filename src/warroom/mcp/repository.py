"""The few reads the MCP tools need that no other context already offers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import Decision, Incident


async def search_incidents(session: AsyncSession, words: list[str], *, status: str | None,
                           limit: int) -> tuple[list[Incident], int]:
    """Return incidents whose title, service or namespace holds every word, newest first."""
    conditions = []
    for word in words:
        pattern = f"%{word.lower()}%"
        conditions.append(or_(func.lower(Incident.title).like(pattern),
                              func.lower(Incident.service).like(pattern),
                              func.lower(Incident.namespace).like(pattern)))
    if status:
        conditions.append(Incident.status == status)
    total = (await session.execute(
        select(func.count()).select_from(Incident).where(*conditions))).scalar_one()
    rows = await session.scalars(select(Incident).where(*conditions)
                                 .order_by(Incident.opened_at.desc(), Incident.id).limit(limit))
    return list(rows), int(total)


async def latest_decision_status(session: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    """Return each incident's newest decision status, for incidents that have one."""
    if not ids:
        return {}
    stmt = (select(Decision.incident_id, Decision.status)
            .where(Decision.incident_id.in_(list(ids)))
            .order_by(Decision.created_at, Decision.token))
    return {incident_id: status for incident_id, status in (await session.execute(stmt)).all()}
