"""The AI-performance SQL: what became of the decisions, the agents' turns, the models' usage.

Each figure is one statement over the stored facts of the range's incidents: the decisions
with their approvals, executions, verifications, challenges and `decision.ready` events; the
agent turns in the audit trail; the language-model turns in `llm_turns`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    case,
    column,
    distinct,
    func,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.stats.models import Count, DecisionFacts, Percentiles, StatsRange
from warroom.stats.repository import incident_filter
from warroom.stats.sql import IndexedTable, percentiles
from warroom.store.tables import (
    Approval,
    AuditEvent,
    ChallengeOutcome,
    Decision,
    Execution,
    Incident,
    LLMTurnRow,
    Verification,
)

TURN_KIND = "agent.turn"
READY_KIND = "decision.ready"


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _most(value: ColumnElement[Any], table: Any, *where: Any) -> ColumnElement[int]:
    """The largest `value` over a decision's rows of `table` (an indexed lookup, 0 if none)."""
    return func.coalesce(select(func.max(value)).select_from(table).where(*where)
                         .scalar_subquery(), 0)


async def decision_facts(session: AsyncSession, q: StatsRange
                         ) -> tuple[list[Count], DecisionFacts]:
    """Count the range's decisions by outcome, with their timeouts, verifications, overrides
    and challenges.

    One row per decision, each fact an aggregate over the decision's own rows (a lookup by
    token, never a hash of the whole history), summed per outcome in the same statement.
    """
    token = Decision.token
    # 2: the policy approved it, 1: a person did, 0: nobody
    approved = _most(case((Approval.verdict != "approve", 0), (Approval.via == "policy", 2),
                          else_=1), Approval, Approval.decision_token == token)
    rejected = _most(_flag((Approval.verdict == "reject") & (Approval.via != "policy")),
                     Approval, Approval.decision_token == token)
    # 2: a verification succeeded, 1: verified without success, 0: not verified
    verified = _most(case((Verification.verdict == "success", 2), else_=1), Verification,
                     Verification.decision_token == token)
    # `kind` wrapped: SQLite would walk its index, every ready event of the history
    timed_out = _most(_flag(AuditEvent.payload["package_status"].as_string() == "timeout"),
                      AuditEvent, AuditEvent.decision_token == token,
                      func.coalesce(AuditEvent.kind, "") == READY_KIND)
    other = _most(_flag(Execution.action["type"].as_string() != Decision.action_type),
                  Execution, Execution.decision_token == token)
    n_challenges = select(func.count()).where(ChallengeOutcome.decision_token == token)
    n_right = select(func.count()).where(ChallengeOutcome.decision_token == token,
                                         ChallengeOutcome.proved_right.is_(True))
    rows = select(
        Decision.status, approved.label("approved"), rejected.label("rejected"),
        verified.label("verified"), timed_out.label("timed_out"), other.label("other"),
        n_challenges.scalar_subquery().label("challenges"),
        n_right.scalar_subquery().label("right"),
    ).join(Incident, Incident.id == Decision.incident_id).where(*incident_filter(q)).subquery()
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


# a literal, not a parameter: SQLite uses a partial index only for a WHERE it can read
TURN_KIND_SQL: ColumnElement[str] = literal_column(f"'{TURN_KIND}'")

# the agent turns' figures, derived from the audit payload by the database (migration 0007)
TURNS = IndexedTable(
    "audit_events", column("kind", String), column("incident_id", String),
    column("session_id", String), column("turn_role", String), column("turn_backend", String),
    column("turn_latency_ms", Float), column("turn_degraded", Integer),
)


def _turns(q: StatsRange) -> Any:
    """The turns of the range's incidents, read from the turns' index alone."""
    incidents = select(Incident.id).where(*incident_filter(q))
    stmt = select(
        TURNS.c.turn_role.label("role"), TURNS.c.turn_backend.label("backend"),
        TURNS.c.turn_latency_ms.label("latency"), TURNS.c.turn_degraded.label("degraded"),
        TURNS.c.session_id.label("session_id"),
    ).where(TURNS.c.kind == TURN_KIND_SQL, TURNS.c.incident_id.in_(incidents))
    return stmt.subquery()


async def turn_latency(session: AsyncSession, q: StatsRange
                       ) -> dict[str, list[tuple[str, int, int, Percentiles]]]:
    """Return `(name, turns, degraded turns, latency percentiles)` per role and per backend."""
    turns = _turns(q)
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
