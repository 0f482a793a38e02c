"""SQL of the sensors that read warroom's own history; the caller owns the session."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import Decision, Incident, Verification


async def past_incidents(session: AsyncSession, *, services: list[str], namespaces: list[str],
                         before: datetime, exclude: str | None, limit: int) -> list[Incident]:
    """Return the newest incidents opened before `before` on any of the services or namespaces."""
    filters = []
    if services:
        filters.append(Incident.service.in_(services))
    if namespaces:
        filters.append(Incident.namespace.in_(namespaces))
    stmt = (select(Incident).where(or_(*filters), Incident.opened_at < before)
            .order_by(Incident.opened_at.desc()).limit(limit))
    if exclude:
        stmt = stmt.where(Incident.id != exclude)
    return list((await session.scalars(stmt)).all())


async def what_happened(session: AsyncSession, incident_id: str) -> tuple[str, str, str]:
    """Return the incident's last decision's fault and action and its last verdict."""
    decision = (await session.scalars(
        select(Decision).where(Decision.incident_id == incident_id)
        .order_by(Decision.created_at.desc()).limit(1))).first()
    if decision is None:
        return "", "", "unknown"
    verdict = (await session.scalars(
        select(Verification.verdict).where(Verification.decision_token == decision.token)
        .order_by(Verification.at.desc()).limit(1))).first()
    return decision.fault or "", decision.action_type or "", verdict or "unknown"
