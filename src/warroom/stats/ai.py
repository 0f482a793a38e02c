"""The AI-performance SQL: what became of the decisions, the agents' turns, the models' usage.

Each figure is one statement over the stored facts of the range's incidents: the decisions
with their approvals, executions, verifications, challenges and `decision.ready` events; the
agent turns in the audit trail; the language-model turns in `llm_turns`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    distinct,
    func,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.stats.derived import (
    APPROVALS,
    CHALLENGES,
    DECISIONS,
    EXECUTIONS,
    READY,
    READY_KIND,
    TURN_KIND,
    TURNS,
    VERIFICATIONS,
    kind_is,
)
from warroom.stats.models import Count, DecisionFacts, Percentiles, StatsRange
from warroom.stats.repository import incident_filter, is_small
from warroom.stats.sql import percentiles
from warroom.store.tables import Incident, LLMTurnRow


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


async def decision_facts(session: AsyncSession, q: StatsRange
                         ) -> tuple[list[Count], DecisionFacts]:
    """Count the range's decisions by outcome, with their timeouts, verifications, overrides
    and challenges.

    One row per decision: the decision joined with each fact table's rows grouped per decision,
    summed per outcome in the same statement. A range holding a small share of the history
    groups only its own decisions' rows (looked up by token); a larger one groups each fact
    table whole, from its index, and hashes: restricting a year's rows by token cost more
    than grouping them all (see `is_small`).
    """
    small = await is_small(session, q)
    d = DECISIONS.c
    mine = (select(d.token, d.status, d.action_type).select_from(Incident)
            .join(DECISIONS, d.incident_id == Incident.id).where(*incident_filter(q))
            .subquery())
    # inline, not a CTE: the planner estimates the range from the incidents' statistics
    tokens = (select(d.token).select_from(Incident)
              .join(DECISIONS, d.incident_id == Incident.id).where(*incident_filter(q)))

    def per_decision(table: Any, *facts: Any, where: Any = None) -> Any:
        key = table.c.decision_token
        stmt = select(key.label("token"), *facts)
        if small:
            stmt = stmt.where(key.in_(tokens))
        if where is not None:
            stmt = stmt.where(where)
        return stmt.group_by(key).subquery()

    ap, v, e, c, r = APPROVALS.c, VERIFICATIONS.c, EXECUTIONS.c, CHALLENGES.c, READY.c
    approvals = per_decision(
        APPROVALS,
        # 2: the policy approved it, 1: a person did, 0: nobody
        func.max(case((ap.verdict != "approve", 0), (ap.via == "policy", 2), else_=1))
        .label("approved"),
        func.max(_flag((ap.verdict == "reject") & (ap.via != "policy"))).label("rejected"))
    # 2: a verification succeeded, 1: verified without success, 0: not verified
    verifications = per_decision(
        VERIFICATIONS, func.max(case((v.verdict == "success", 2), else_=1)).label("verified"))
    ready = per_decision(READY, func.max(r.ready_timeout).label("timed_out"),
                         where=kind_is(READY, READY_KIND))
    # an executed type differs from the proposal when the lowest or the highest one does
    executions = per_decision(EXECUTIONS, func.min(e.action_type).label("low"),
                              func.max(e.action_type).label("high"))
    challenges = per_decision(CHALLENGES, func.count().label("challenges"),
                              func.sum(_flag(c.proved_right.is_(True))).label("right"))
    proposed = mine.c.action_type
    rows = (select(
        mine.c.status,
        func.coalesce(approvals.c.approved, 0).label("approved"),
        func.coalesce(approvals.c.rejected, 0).label("rejected"),
        func.coalesce(verifications.c.verified, 0).label("verified"),
        func.coalesce(ready.c.timed_out, 0).label("timed_out"),
        _flag((executions.c.low != proposed) | (executions.c.high != proposed)).label("other"),
        func.coalesce(challenges.c.challenges, 0).label("challenges"),
        func.coalesce(challenges.c.right, 0).label("right"),
    ).select_from(mine)
        .outerjoin(approvals, approvals.c.token == mine.c.token)
        .outerjoin(verifications, verifications.c.token == mine.c.token)
        .outerjoin(ready, ready.c.token == mine.c.token)
        .outerjoin(executions, executions.c.token == mine.c.token)
        .outerjoin(challenges, challenges.c.token == mine.c.token)
        .subquery())
    outcome = case(
        (rows.c.approved == 2, "auto_executed"),
        (rows.c.status == "rejected", "rejected"),
        (rows.c.status == "expired", "expired"),
        (rows.c.approved == 1, "approved"),
        (rows.c.status == "completed", "escalated"),
        (rows.c.status == "failed", "failed"),
        else_="pending",
    )
    was_approved = rows.c.approved > 0
    stmt = select(
        outcome, func.count(), func.sum(rows.c.timed_out),
        func.sum(_flag(was_approved & (rows.c.verified > 0))),
        func.sum(_flag(was_approved & (rows.c.verified == 2))),
        func.sum(rows.c.rejected), func.sum(rows.c.other), func.sum(rows.c.challenges),
        func.sum(rows.c.right),
    ).group_by(outcome)
    found = (await session.execute(stmt)).all()
    totals = [sum(int(row[i] or 0) for row in found) for i in range(1, 9)]
    outcomes = sorted((Count(key=str(row[0]), count=int(row[1])) for row in found),
                      key=lambda c: (-c.count, c.key))
    return outcomes, DecisionFacts(
        decisions=totals[0], timed_out=totals[1], approved_verified=totals[2],
        approved_verified_success=totals[3], human_rejections=totals[4],
        different_action=totals[5], challenges=totals[6], challenges_proved_right=totals[7])


def _turns(q: StatsRange) -> Any:
    """The turns of the range's incidents, read from the turns' index alone."""
    incidents = select(Incident.id).where(*incident_filter(q))
    stmt = select(
        TURNS.c.turn_role.label("role"), TURNS.c.turn_backend.label("backend"),
        TURNS.c.turn_latency_ms.label("latency"), TURNS.c.turn_degraded.label("degraded"),
        TURNS.c.session_id.label("session_id"),
    ).where(kind_is(TURNS, TURN_KIND), TURNS.c.incident_id.in_(incidents))
    return stmt.subquery()


async def turn_latency(session: AsyncSession, q: StatsRange
                       ) -> dict[str, list[tuple[str, int, int, Percentiles]]]:
    """Return `(name, turns, degraded turns, latency percentiles)` per role and per backend."""
    turns = _turns(q)
    if session.get_bind().dialect.name == "postgresql":
        return await _turn_latency_pg(session, turns)
    counts = (await session.execute(
        select(turns.c.role, turns.c.backend, func.count(), func.sum(turns.c.degraded))
        .group_by(turns.c.role, turns.c.backend))).all()
    by_role = select(("role:" + func.coalesce(turns.c.role, "")).label("name"),
                     turns.c.latency.label("v"))
    by_backend = select(("backend:" + turns.c.backend).label("name"), turns.c.latency.label("v"))
    ranked = await percentiles(session, select(union_all(by_role, by_backend).subquery()))
    out: dict[str, list[tuple[str, int, int, Percentiles]]] = {"role": [], "backend": []}
    for by, index in (("role", 0), ("backend", 1)):
        totals: dict[str, list[int]] = {}
        for row in counts:
            entry = totals.setdefault(str(row[index] or ""), [0, 0])
            entry[0] += int(row[2])
            entry[1] += int(row[3] or 0)
        out[by] = [(name, n, d, ranked.get(f"{by}:{name}", Percentiles(count=0)))
                   for name, (n, d) in sorted(totals.items())]
    return out


async def _turn_latency_pg(session: AsyncSession, turns: Any
                           ) -> dict[str, list[tuple[str, int, int, Percentiles]]]:
    """Every role's and backend's figures in one pass over the turns (grouping sets), each
    percentile PostgreSQL's `percentile_disc`, the nearest rank, as `sql.percentiles`."""
    role, latency = func.coalesce(turns.c.role, ""), turns.c.latency
    stmt = select(
        func.grouping(role), role, turns.c.backend, func.count(), func.sum(turns.c.degraded),
        func.count(latency), func.percentile_disc(0.5).within_group(latency),
        func.percentile_disc(0.95).within_group(latency), func.max(latency),
    ).group_by(func.grouping_sets(role, turns.c.backend))
    out: dict[str, list[tuple[str, int, int, Percentiles]]] = {"role": [], "backend": []}
    for by_backend, name, backend, n, degraded, ranked, p50, p95, top in (
            await session.execute(stmt)).all():
        found = Percentiles(count=int(ranked), p50=p50, p95=p95, max=top)
        key = "backend" if by_backend else "role"
        out[key].append((str((backend if by_backend else name) or ""), int(n),
                         int(degraded or 0), found))
    return {key: sorted(rows) for key, rows in out.items()}


async def degraded_debates(session: AsyncSession, q: StatsRange) -> int:
    """Count the debates (sessions) of the range in which at least one agent degraded."""
    turns = _turns(q)
    stmt = select(func.count(distinct(turns.c.session_id))).where(turns.c.degraded == 1)
    return int((await session.execute(stmt)).scalar_one())


async def model_usage(session: AsyncSession, q: StatsRange
                      ) -> list[tuple[str, str, int, int, int, int, float]]:
    """Return `(role, model, turns, cached, input tokens, output tokens, cost USD)` of the
    language-model turns of the range's incidents, per agent role and answering model."""
    incidents = select(Incident.id).where(*incident_filter(q))
    t = LLMTurnRow
    stmt = (select(t.role, t.model, func.count(), func.sum(_flag(t.cached.is_(True))),
                   func.sum(t.input_tokens), func.sum(t.output_tokens), func.sum(t.cost_usd))
            .where(t.incident_id.in_(incidents)).group_by(t.role, t.model))
    return [(str(role), str(model or ""), int(n), int(cached or 0), int(tin or 0),
             int(tout or 0), float(cost or 0.0))
            for role, model, n, cached, tin, tout, cost in (await session.execute(stmt)).all()]
