"""SQL for decisions, approvals, executions and verifications; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.domain.models import ACTIVE_STATES
from warroom.store.tables import Approval, Decision, Execution, Verification


async def get(session: AsyncSession, token: str, *, for_update: bool = False) -> Decision | None:
    """Return the decision with this token, locking its row when asked (PostgreSQL)."""
    stmt = select(Decision).where(Decision.token == token)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def by_workflow(session: AsyncSession, workflow_id: str) -> Decision | None:
    """Return the decision a workflow opened, if it opened one."""
    stmt = select(Decision).where(Decision.workflow_id == workflow_id)
    return (await session.execute(stmt)).scalars().first()


async def active_for_incident(session: AsyncSession, incident_id: str) -> Decision | None:
    """Return the incident's decision still in flight (not a rollback proposal), if any."""
    stmt = (
        select(Decision)
        .where(
            Decision.incident_id == incident_id,
            Decision.parent_token.is_(None),
            Decision.status.in_(ACTIVE_STATES),
        )
        .order_by(Decision.created_at.desc())
    )
    return (await session.execute(stmt)).scalars().first()


async def unfinished(session: AsyncSession) -> Sequence[Decision]:
    """Return every decision still in flight (rollback proposals too), oldest first."""
    stmt = (select(Decision).where(Decision.status.in_(ACTIVE_STATES))
            .order_by(Decision.created_at))
    return (await session.execute(stmt)).scalars().all()


async def for_incident(session: AsyncSession, incident_id: str) -> Sequence[Decision]:
    """Return every decision of an incident, oldest first."""
    stmt = (
        select(Decision)
        .where(Decision.incident_id == incident_id)
        .order_by(Decision.created_at, Decision.token)
    )
    return (await session.execute(stmt)).scalars().all()


async def latest_for_incidents(
    session: AsyncSession, incident_ids: Sequence[str]
) -> dict[str, Decision]:
    """Return each incident's newest decision (incidents without one are left out)."""
    if not incident_ids:
        return {}
    stmt = (
        select(Decision)
        .where(Decision.incident_id.in_(list(incident_ids)))
        .order_by(Decision.created_at, Decision.token)
    )
    latest: dict[str, Decision] = {}
    for decision in (await session.execute(stmt)).scalars():
        latest[decision.incident_id] = decision  # the last one wins: the newest
    return latest


async def count_rounds(session: AsyncSession, incident_id: str) -> int:
    """Count the incident's decisions that opened a round (rollback proposals excluded)."""
    stmt = select(func.count()).select_from(Decision).where(
        Decision.incident_id == incident_id, Decision.parent_token.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def approvals(session: AsyncSession, token: str) -> Sequence[Approval]:
    """Return the approvals and rejections of a decision, in order."""
    stmt = select(Approval).where(Approval.decision_token == token).order_by(Approval.id)
    return (await session.execute(stmt)).scalars().all()


async def executions(session: AsyncSession, token: str) -> Sequence[Execution]:
    """Return the executor calls of a decision, in order."""
    stmt = select(Execution).where(Execution.decision_token == token).order_by(Execution.id)
    return (await session.execute(stmt)).scalars().all()


async def verifications(session: AsyncSession, token: str) -> Sequence[Verification]:
    """Return the verifications of a decision, in order."""
    stmt = (
        select(Verification).where(Verification.decision_token == token)
        .order_by(Verification.id)
    )
    return (await session.execute(stmt)).scalars().all()
