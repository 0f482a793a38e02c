"""The AI-performance SQL: what became of the decisions, the agents' turns, the models' usage.

Each figure is one statement (or a few) over the stored facts of the range's incidents: the
decisions' outcome facts, which the database folds into `decision_facts`; the agent turns,
which it copies from the audit trail into `agent_turns` with their incident's opening time;
the language-model turns in `llm_turns` (migration 0010).
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    case,
    distinct,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.stats.derived import (
    DECISION_FACTS,
    LLM_TURNS,
    TURNS_BY,
    TURNS_DEGRADED,
    TURNS_GROUPS,
    TURNS_RANGE,
)
from warroom.stats.models import Count, DecisionFacts, Percentiles, StatsRange
from warroom.stats.repository import is_small, opened_in
from warroom.stats.sql import Walk, percentiles, walked


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


async def decision_facts(session: AsyncSession, q: StatsRange
                         ) -> tuple[list[Count], DecisionFacts]:
    """Count the range's decisions by outcome, with their timeouts, verifications, overrides
    and challenges.

    One statement over the decisions of the range's incidents and their outcome facts, which
    the database folds into `decision_facts` as approvals, verifications, executions,
    challenges and `decision.ready` events are inserted (migration 0010), read from one
    covering index.
    """
    d = DECISION_FACTS.c
    rows = (select(
        d.status, d.approved, d.human_rejected.label("rejected"), d.verified, d.timed_out,
        _flag((d.executed_low != d.action_type) | (d.executed_high != d.action_type))
        .label("other"),
        d.challenges, d.challenges_right.label("right"),
    ).where(*opened_in(q, DECISION_FACTS)).subquery())
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


async def _walkable(session: AsyncSession, q: StatsRange) -> bool:
    """Whether to walk the turns' latency indexes: a large range, unfiltered (the filters ask
    the incidents, row by row)."""
    return not (q.namespace or q.service) and not await is_small(session, q)


async def turn_latency(session: AsyncSession, q: StatsRange
                       ) -> dict[str, list[tuple[str, int, int, Percentiles]]]:
    """Return `(name, turns, degraded turns, latency percentiles)` per role and per backend."""
    if await _walkable(session, q):
        return await _turn_latency_walked(session, q)
    if session.get_bind().dialect.name == "postgresql":
        return await _turn_latency_pg(session, q)
    t = TURNS_RANGE.c
    turns = select(t.role, t.backend, t.latency_ms.label("latency"), t.degraded
                   ).where(*opened_in(q, TURNS_RANGE)).subquery()
    counts = (await session.execute(
        select(turns.c.role, turns.c.backend, func.count(), func.sum(turns.c.degraded))
        .group_by(turns.c.role, turns.c.backend))).all()
    by_role = select(("role:" + turns.c.role).label("name"), turns.c.latency.label("v"))
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


async def _turn_latency_walked(session: AsyncSession, q: StatsRange
                               ) -> dict[str, list[tuple[str, int, int, Percentiles]]]:
    """A large range: count per role and backend in one pass over the index in that order (no
    sort), then walk each role's and each backend's latencies to its ranks (`sql.walked`)."""
    g = TURNS_GROUPS.c
    rows = (await session.execute(
        select(g.role, g.backend, func.count(), func.sum(g.degraded), func.count(g.latency_ms))
        .where(*opened_in(q, TURNS_GROUPS)).group_by(g.role, g.backend))).all()
    counts: dict[str, dict[str, list[int]]] = {"role": {}, "backend": {}}
    for role, backend, n, degraded, ranked in rows:
        for by, name in (("role", role), ("backend", backend)):
            entry = counts[by].setdefault(str(name or ""), [0, 0, 0])
            for i, value in enumerate((n, degraded, ranked)):
                entry[i] += int(value or 0)
    walks = [Walk(key=f"{by}:{name}", count=ranked, table=TURNS_BY[by],
                  value=TURNS_BY[by].c.latency_ms,
                  where=(TURNS_BY[by].c[by] == name, *opened_in(q, TURNS_BY[by])))
             for by, names in counts.items() for name, (_, _, ranked) in names.items()]
    found = await walked(session, walks)
    return {by: sorted((name, n, d, found[f"{by}:{name}"]) for name, (n, d, _) in names.items())
            for by, names in counts.items()}


async def _turn_latency_pg(session: AsyncSession, q: StatsRange
                           ) -> dict[str, list[tuple[str, int, int, Percentiles]]]:
    """Every role's and backend's figures in one pass over the turns (grouping sets), each
    percentile PostgreSQL's `percentile_disc`, the nearest rank, as `sql.percentiles`."""
    t = TURNS_RANGE.c
    turns = select(t.role, t.backend, t.latency_ms.label("latency"), t.degraded
                   ).where(*opened_in(q, TURNS_RANGE)).subquery()
    role, latency = turns.c.role, turns.c.latency
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
    t = TURNS_DEGRADED.c
    # a literal 1: SQLite uses the partial index only for a WHERE it can read
    stmt = select(func.count(distinct(t.session_id))).where(
        t.degraded == literal_column("1"), *opened_in(q, TURNS_DEGRADED))
    return int((await session.execute(stmt)).scalar_one())


async def model_usage(session: AsyncSession, q: StatsRange
                      ) -> list[tuple[str, str, int, int, int, int, float]]:
    """Return `(role, model, turns, cached, input tokens, output tokens, cost USD)` of the
    language-model turns of the range's incidents, per agent role and answering model."""
    t = LLM_TURNS.c
    stmt = (select(t.role, t.model, func.count(), func.sum(_flag(t.cached.is_(True))),
                   func.sum(t.input_tokens), func.sum(t.output_tokens), func.sum(t.cost_usd))
            .where(*opened_in(q, LLM_TURNS)).group_by(t.role, t.model))
    return [(str(role), str(model or ""), int(n), int(cached or 0), int(tin or 0),
             int(tout or 0), float(cost or 0.0))
            for role, model, n, cached, tin, tout, cost in (await session.execute(stmt)).all()]
