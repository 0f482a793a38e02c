"""SQL for the evidence snapshots the analysis stores; the caller owns the transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import EvidenceSnapshotRow


async def latest_snapshot(session: AsyncSession, incident_id: str) -> EvidenceSnapshotRow | None:
    """Return the incident's newest evidence snapshot, if it was ever analysed."""
    stmt = (
        select(EvidenceSnapshotRow)
        .where(EvidenceSnapshotRow.incident_id == incident_id)
        .order_by(EvidenceSnapshotRow.taken_at.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalars().first()


async def snapshots(session: AsyncSession, incident_id: str) -> list[EvidenceSnapshotRow]:
    """Return every evidence snapshot of the incident, oldest first."""
    stmt = (select(EvidenceSnapshotRow).where(EvidenceSnapshotRow.incident_id == incident_id)
            .order_by(EvidenceSnapshotRow.taken_at))
    return list((await session.execute(stmt)).scalars())
