"""The SQL behind the scrape-time gauges: a few indexed aggregates, nothing per row."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.domain.models import ACTIVE_STATES
from warroom.observe.models import DatabaseGauges
from warroom.store.tables import AuditEvent, Decision, Incident


async def read_gauges(session: AsyncSession) -> DatabaseGauges:
    """Count open incidents by priority, the workflow backlog by stage, and the audit chain."""
    open_rows = await session.execute(
        select(Incident.priority, func.count())
        .where(Incident.status == "open")
        .group_by(Incident.priority)
    )
    open_by_priority = {str(p): int(n) for p, n in open_rows}
    # accepted but not picked up: an open incident no workflow has opened a decision for
    queued = await session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(Incident.status == "open")
        .where(~select(Decision.token).where(Decision.incident_id == Incident.id).exists())
    )
    active_rows = await session.execute(
        select(Decision.status, func.count())
        .where(Decision.status.in_(sorted(ACTIVE_STATES)))
        .group_by(Decision.status)
    )
    backlog = {str(s): int(n) for s, n in active_rows}
    backlog["queued"] = int(queued or 0)
    chain = await session.scalar(select(func.max(AuditEvent.seq)))
    return DatabaseGauges(
        open_incidents=open_by_priority, backlog=backlog, audit_chain_length=int(chain or 0)
    )
