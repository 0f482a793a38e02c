"""SQL of the fleet benchmarks: what the run left in the database, read after (or during) it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import AuditEvent, Decision, Execution, Incident, Signal


async def ready_times(session: AsyncSession) -> dict[str, datetime]:
    """Return when each incident's first decision became ready."""
    rows = await session.execute(
        select(Decision.incident_id, func.min(Decision.ready_at))
        .where(Decision.parent_token.is_(None), Decision.ready_at.is_not(None))
        .group_by(Decision.incident_id)
    )
    return {incident: at for incident, at in rows.all() if at is not None}


async def closed_times(session: AsyncSession) -> dict[str, datetime]:
    """Return when each incident's workflow closed (its decision reached a terminal state)."""
    rows = await session.execute(
        select(AuditEvent.incident_id, func.min(AuditEvent.at))
        .where(AuditEvent.kind == "workflow.closed").group_by(AuditEvent.incident_id)
    )
    return {str(incident): at for incident, at in rows.all()}


async def decision_states(session: AsyncSession) -> Counter[str]:
    """Count the round-opening decisions by status."""
    rows = await session.execute(
        select(Decision.status, func.count()).where(Decision.parent_token.is_(None))
        .group_by(Decision.status)
    )
    return Counter({status: int(n) for status, n in rows.all()})


async def execution_calls(session: AsyncSession) -> dict[str, int]:
    """Return how many times each decision's action reached its executor (audit trail)."""
    rows = await session.execute(
        select(AuditEvent.decision_token, func.count())
        .where(AuditEvent.kind == "execution.call").group_by(AuditEvent.decision_token)
    )
    return {str(token): int(n) for token, n in rows.all()}


async def executions(session: AsyncSession) -> list[Any]:
    """Return every execution record (decision token, status)."""
    rows = await session.execute(select(Execution.decision_token, Execution.status))
    return list(rows.all())


async def fingerprints(session: AsyncSession) -> set[str]:
    """Return the fingerprints of every stored signal."""
    return set((await session.execute(select(Signal.fingerprint))).scalars())


async def awaiting_approval(session: AsyncSession) -> list[str]:
    """Return the tokens of ready decisions with an action a human must approve."""
    rows = await session.execute(
        select(Decision.token, Decision.action_type).where(Decision.status == "ready")
    )
    return [token for token, action in rows.all() if action not in (None, "escalate",
                                                                     "no_action")]


async def round_decisions(session: AsyncSession) -> list[Any]:
    """Return every round-opening decision: token, incident id, status, created and updated."""
    rows = await session.execute(
        select(Decision.token, Decision.incident_id, Decision.status, Decision.created_at,
               Decision.updated_at)
        .where(Decision.parent_token.is_(None))
    )
    return list(rows.all())


async def closed_decisions(session: AsyncSession) -> set[str]:
    """Return the tokens of the decisions whose workflow closed."""
    rows = await session.execute(
        select(AuditEvent.decision_token).where(AuditEvent.kind == "workflow.closed")
    )
    return {str(token) for token in rows.scalars()}


async def failed_executions(session: AsyncSession) -> list[tuple[str, str]]:
    """Return (decision token, error) of every execution record that failed."""
    rows = await session.execute(
        select(Execution.decision_token, Execution.error).where(Execution.status == "failed")
    )
    return [(str(token), str(error or "")) for token, error in rows.all()]


async def debate_seconds(session: AsyncSession) -> list[float]:
    """Return, per round-opening decision that is ready, seconds from opened to ready."""
    rows = await session.execute(
        select(Decision.created_at, Decision.ready_at)
        .where(Decision.parent_token.is_(None), Decision.ready_at.is_not(None))
    )
    return [(ready - opened).total_seconds() for opened, ready in rows.all()
            if ready is not None]


async def resolved_signals(session: AsyncSession) -> int:
    """Count the stored signals whose last word was a resolution."""
    result = await session.execute(
        select(func.count()).select_from(Signal).where(Signal.status == "resolved"))
    return int(result.scalar_one())


async def workload(session: AsyncSession) -> tuple[int, int]:
    """Return how many incidents and decisions (workflow rounds) the run stored."""
    incidents = await session.scalar(select(func.count()).select_from(Incident))
    decisions = await session.scalar(select(func.count()).select_from(Decision))
    return int(incidents or 0), int(decisions or 0)
