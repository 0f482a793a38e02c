"""SQL of the workflows: the rounds an incident had, the incidents nobody took up, and the
worker fleet's heartbeats and the claim a live worker makes on a dead one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Row, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.sql import dialect_of, in_list, list_value
from warroom.store.tables import Decision, Incident, WorkerRow


async def rounds(
    session: AsyncSession, incident_ids: list[str]
) -> Sequence[Row[str, str, str | None]]:
    """Return (incident_id, status, workflow_id) of the incidents' rounds, oldest first.

    Rollback proposals are no round of their own and are left out.
    """
    dialect = dialect_of(session)
    result = await session.execute(
        select(Decision.incident_id, Decision.status, Decision.workflow_id)
        .where(in_list(Decision.incident_id, "b_ids", dialect), Decision.parent_token.is_(None))
        .order_by(Decision.created_at, Decision.token),
        {"b_ids": list_value(incident_ids, dialect)},
    )
    return result.all()


async def undecided_open_incidents(session: AsyncSession) -> Sequence[Incident]:
    """Return the open incidents that have no decision at all, oldest first."""
    stmt = (
        select(Incident)
        .where(Incident.status == "open")
        .where(~select(Decision.token).where(Decision.incident_id == Incident.id).exists())
        .order_by(Incident.opened_at)
    )
    return (await session.execute(stmt)).scalars().all()


async def register(session: AsyncSession, worker_id: str, *, host: str, pid: int,
                   now: float) -> None:
    """Record a worker as alive (a fixed id that restarts is alive again)."""
    row = await session.get(WorkerRow, worker_id)
    if row is None:
        session.add(WorkerRow(id=worker_id, host=host, pid=pid, state="alive",
                              started_at=datetime.now(UTC), heartbeat_at=now, recovered=0))
        return
    row.host, row.pid, row.state, row.heartbeat_at = host, pid, "alive", now
    row.taken_over_by = row.taken_over_at = None


async def beat(session: AsyncSession, worker_id: str, now: float) -> bool:
    """Refresh a worker's heartbeat; False when it was declared dead meanwhile (fenced)."""
    result = await session.execute(
        update(WorkerRow).where(WorkerRow.id == worker_id, WorkerRow.state == "alive")
        .values(heartbeat_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def stopped(session: AsyncSession, worker_id: str, now: float) -> None:
    """Mark a worker that shut down cleanly: its open workflows are free to take over."""
    await session.execute(
        update(WorkerRow).where(WorkerRow.id == worker_id, WorkerRow.state == "alive")
        .values(state="stopped", heartbeat_at=now)
    )


def _orphaned(cutoff: float) -> ColumnElement[bool]:
    """Workers whose workflows need a new home: silent, stopped, or claimed by a silent taker."""
    return or_(
        and_(WorkerRow.state == "alive", WorkerRow.heartbeat_at < cutoff),
        WorkerRow.state == "stopped",
        and_(WorkerRow.state == "dead", WorkerRow.taken_over_at < cutoff),
    )


async def orphaned(session: AsyncSession, cutoff: float, *, exclude: str) -> Sequence[str]:
    """Return the ids of the workers to take over (never `exclude`, the caller)."""
    rows = await session.execute(
        select(WorkerRow.id).where(_orphaned(cutoff), WorkerRow.id != exclude)
        .order_by(WorkerRow.heartbeat_at)
    )
    return list(rows.scalars().all())


async def claim(session: AsyncSession, worker_id: str, *, by: str, now: float,
                cutoff: float) -> bool:
    """Claim a dead worker's workflows; only one live worker wins the claim."""
    result = await session.execute(
        update(WorkerRow).where(WorkerRow.id == worker_id, _orphaned(cutoff))
        .values(state="dead", taken_over_by=by, taken_over_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def recovered(session: AsyncSession, worker_id: str, *, by: str, count: int) -> None:
    """Record that the claimed worker's pending workflows were handed back to the queues."""
    await session.execute(
        update(WorkerRow).where(WorkerRow.id == worker_id, WorkerRow.taken_over_by == by)
        .values(state="recovered", recovered=count)
    )


async def prune(session: AsyncSession, before: float) -> None:
    """Forget workers whose takeover finished long ago (pods come and go with new names)."""
    await session.execute(
        delete(WorkerRow).where(WorkerRow.state == "recovered", WorkerRow.heartbeat_at < before)
    )


async def workers(session: AsyncSession) -> Sequence[WorkerRow]:
    """Return every known worker, the most recently seen first."""
    rows = await session.execute(select(WorkerRow).order_by(WorkerRow.heartbeat_at.desc()))
    return list(rows.scalars().all())
