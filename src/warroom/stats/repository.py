"""The stats' SQL: every figure is computed by the database from the stored facts.

Percentiles are nearest-rank (the value at rank ceil(p * n)) computed with window functions
(`sql.percentiles`), so SQLite and PostgreSQL give the same answer and only the few ranked rows
leave the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    case,
    column,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.stats.models import Count, Percentiles, StatsRange
from warroom.stats.sql import IndexedTable, percentiles, seconds_between, utc_day
from warroom.store.tables import (
    Approval,
    AuditEvent,
    ChallengeOutcome,
    Decision,
    Execution,
    Incident,
    Playbook,
    Verification,
)

TURN_KIND = "agent.turn"
LEARN_KIND = "learn.updated"
READY_KIND = "decision.ready"
# turns that name no backend came from the rule backends, the only ones that wrote none
DEFAULT_BACKEND = "rules"


def _at(value: datetime) -> ColumnElement[datetime]:
    return literal(value, DateTime(timezone=True))


def incident_filter(q: StatsRange) -> list[ColumnElement[bool]]:
    """Select the incidents opened in the range, in the namespace and service asked for."""
    conditions = [Incident.opened_at >= q.since, Incident.opened_at < q.until]
    if q.namespace:
        conditions.append(Incident.namespace == q.namespace)
    if q.service:
        conditions.append(Incident.service == q.service)
    return conditions


def _counts(rows: Sequence[Any]) -> list[Count]:
    found = [Count(key=str(key), count=int(n)) for key, n in rows]
    return sorted(found, key=lambda c: (-c.count, c.key))


# --- incidents ---------------------------------------------------------------------------

async def incident_counts(session: AsyncSession, q: StatsRange) -> dict[str, list[Count]]:
    """Count the range's incidents by status, priority, fault class and team."""
    where = incident_filter(q)
    out: dict[str, list[Count]] = {}
    for name, column_ in (("status", Incident.status), ("priority", Incident.priority)):
        # grouped by an expression: SQLite would otherwise walk the column's index, all of it
        key = func.coalesce(column_, "")
        stmt = select(key, func.count()).where(*where).group_by(key)
        out[name] = _counts((await session.execute(stmt)).all())
    fault = func.coalesce(Decision.fault, "undiagnosed")
    team = func.coalesce(Decision.package["team"].as_string(), "undecided")
    for name, expr in (("fault", fault), ("team", team)):
        stmt = (select(expr, func.count(distinct(Incident.id)))
                .select_from(Incident)
                .outerjoin(Decision, (Decision.incident_id == Incident.id)
                           & Decision.parent_token.is_(None))
                .where(*where).group_by(expr))
        out[name] = _counts((await session.execute(stmt)).all())
    return out


async def per_day(session: AsyncSession, q: StatsRange) -> dict[str, tuple[int, int]]:
    """Return `day -> (opened, resolved)` for the days of the range that saw either."""
    days: dict[str, list[int]] = {}
    opened = utc_day(Incident.opened_at)
    for day, n in (await session.execute(
            select(opened, func.count()).where(*incident_filter(q)).group_by(opened))).all():
        days.setdefault(str(day), [0, 0])[0] = int(n)
    resolved = utc_day(Incident.resolved_at)
    where = [Incident.resolved_at >= q.since, Incident.resolved_at < q.until]
    if q.namespace:
        where.append(Incident.namespace == q.namespace)
    if q.service:
        where.append(Incident.service == q.service)
    for day, n in (await session.execute(
            select(resolved, func.count()).where(*where).group_by(resolved))).all():
        days.setdefault(str(day), [0, 0])[1] = int(n)
    return {day: (pair[0], pair[1]) for day, pair in sorted(days.items())}


# --- resolution --------------------------------------------------------------------------

def _durations(q: StatsRange) -> Select[str, float]:
    """Seconds from each incident's opening to each milestone, as rows `(name, v)`.

    Each milestone is a subquery per incident, so the time range's index drives the query.
    """
    where = incident_filter(q)

    def first(name: str, column_: Any, *joins: Any) -> Select[str, float]:
        earliest = select(func.min(column_)).select_from(Decision).where(
            Decision.incident_id == Incident.id)
        for target, on in joins:
            earliest = earliest.join(target, on)
        return select(literal(name).label("name"),
                      seconds_between(Incident.opened_at, earliest.scalar_subquery()).label("v")
                      ).where(*where)

    recovery = select(literal("recovery").label("name"),
                      seconds_between(Incident.opened_at, Incident.resolved_at).label("v")
                      ).where(*where, Incident.resolved_at.is_not(None))
    return select(union_all(
        first("acknowledge", Decision.created_at),
        first("decision_ready", Decision.ready_at),
        first("execution", Execution.started_at,
              (Execution, Execution.decision_token == Decision.token)),
        recovery,
    ).subquery())


async def durations(session: AsyncSession, q: StatsRange) -> dict[str, Percentiles]:
    """Return P50/P95/max per milestone for the incidents opened in the range."""
    return await percentiles(session, _durations(q))


async def recovery_per_day(session: AsyncSession, q: StatsRange) -> dict[str, Percentiles]:
    """Return the recovery percentiles of the incidents opened on each day of the range."""
    values = select(utc_day(Incident.opened_at).label("name"),
                    seconds_between(Incident.opened_at, Incident.resolved_at).label("v")
                    ).where(*incident_filter(q), Incident.resolved_at.is_not(None))
    return dict(sorted((await percentiles(session, values)).items()))


# --- AI performance ----------------------------------------------------------------------

def _decisions(q: StatsRange) -> Select[Any]:
    return select(Decision.token).join(Incident, Incident.id == Decision.incident_id).where(
        *incident_filter(q))


async def outcomes(session: AsyncSession, q: StatsRange) -> list[Count]:
    """Count the decisions of the range's incidents by what became of them (one each)."""
    approved_by = exists().where(Approval.decision_token == Decision.token,
                                 Approval.verdict == "approve")
    outcome = case(
        (approved_by.where(Approval.via == "policy"), "auto_executed"),
        (Decision.status == "rejected", "rejected"),
        (Decision.status == "expired", "expired"),
        (approved_by.where(Approval.via != "policy"), "approved"),
        (Decision.status == "completed", "escalated"),
        (Decision.status == "failed", "failed"),
        else_="pending",
    ).label("outcome")
    stmt = (select(outcome, func.count()).join(Incident, Incident.id == Decision.incident_id)
            .where(*incident_filter(q)).group_by(outcome))
    return _counts((await session.execute(stmt)).all())


async def decision_facts(session: AsyncSession, q: StatsRange) -> dict[str, int]:
    """Count timeouts, verified approvals, overrides and critic challenges of the range."""
    tokens = _decisions(q).subquery()
    # `kind` wrapped: SQLite would walk its index, every ready event of the history
    timed_out = (select(func.count(distinct(AuditEvent.decision_token)))
                 .where(AuditEvent.decision_token.in_(select(tokens.c.token)),
                        func.coalesce(AuditEvent.kind, "") == READY_KIND,
                        AuditEvent.payload["package_status"].as_string() == "timeout"))
    approved = select(Approval.decision_token).where(Approval.verdict == "approve")
    verified = (select(func.count(distinct(Verification.decision_token)),
                       func.count(distinct(case((Verification.verdict == "success",
                                                 Verification.decision_token)))))
                .where(Verification.decision_token.in_(select(tokens.c.token)),
                       Verification.decision_token.in_(approved)))
    rejected = (select(func.count(distinct(Approval.decision_token)))
                .where(Approval.decision_token.in_(select(tokens.c.token)),
                       Approval.verdict == "reject", Approval.via != "policy"))
    other_action = (select(func.count(distinct(Execution.decision_token)))
                    .join(Decision, Decision.token == Execution.decision_token)
                    .where(Decision.token.in_(select(tokens.c.token)),
                           Execution.action["type"].as_string() != Decision.action_type))
    challenges = (select(func.count(), func.count(case((ChallengeOutcome.proved_right, 1))))
                  .where(ChallengeOutcome.decision_token.in_(select(tokens.c.token))))
    total = select(func.count()).select_from(tokens)
    n_verified, n_success = (await session.execute(verified)).one()
    n_challenges, n_right = (await session.execute(challenges)).one()
    return {
        "decisions": int((await session.execute(total)).scalar_one()),
        "timed_out": int((await session.execute(timed_out)).scalar_one()),
        "approved_verified": int(n_verified), "approved_verified_success": int(n_success),
        "human_rejections": int((await session.execute(rejected)).scalar_one()),
        "different_action": int((await session.execute(other_action)).scalar_one()),
        "challenges": int(n_challenges), "challenges_proved_right": int(n_right),
    }


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


# --- services and playbooks --------------------------------------------------------------

async def services(session: AsyncSession, q: StatsRange, *, now: datetime, limit: int
                   ) -> list[tuple[str, str, int, float]]:
    """Return `(namespace, service, incidents, seconds in incident)` for the top services."""
    end = _at(min(now, q.until))
    seconds = func.sum(
        seconds_between(Incident.opened_at, func.coalesce(Incident.resolved_at, end)))
    base = (select(Incident.namespace, Incident.service, func.count().label("n"),
                   seconds.label("s"))
            .where(*incident_filter(q)).group_by(Incident.namespace, Incident.service))
    rows: dict[tuple[str, str], tuple[str, str, int, float]] = {}
    for order in ("n", "s"):
        sub = base.subquery()
        stmt = select(sub).order_by(sub.c[order].desc(), sub.c.namespace, sub.c.service
                                    ).limit(limit)
        for ns, svc, n, s in (await session.execute(stmt)).all():
            rows[(ns, svc)] = (ns, svc, int(n), max(float(s or 0.0), 0.0))
    return list(rows.values())


async def playbook_days(session: AsyncSession, q: StatsRange
                        ) -> list[tuple[str, str, float, int]]:
    """Return `(playbook key, day, trust at the day's end, updates that day)`."""
    payload = AuditEvent.payload
    day = utc_day(AuditEvent.at)
    key = payload["playbook"].as_string()
    stmt = select(
        key.label("playbook"), day.label("day"),
        payload["trust_after"].as_float().label("trust"),
        func.row_number().over(partition_by=(key, day), order_by=AuditEvent.seq.desc())
        .label("rn"),
        func.count().over(partition_by=(key, day)).label("n"),
    ).where(AuditEvent.kind == LEARN_KIND, AuditEvent.at >= q.since, AuditEvent.at < q.until)
    if q.namespace or q.service:
        stmt = stmt.join(Incident, Incident.id == AuditEvent.incident_id)
        if q.namespace:
            stmt = stmt.where(Incident.namespace == q.namespace)
        if q.service:
            stmt = stmt.where(Incident.service == q.service)
    sub = stmt.subquery()
    rows = (await session.execute(
        select(sub.c.playbook, sub.c.day, sub.c.trust, sub.c.n).where(sub.c.rn == 1)
        .order_by(sub.c.playbook, sub.c.day))).all()
    return [(str(p), str(d), float(t), int(n)) for p, d, t, n in rows if p is not None]


async def playbook_trust_now(session: AsyncSession) -> dict[tuple[str, str], float]:
    """Return the current trust of every playbook."""
    rows = (await session.execute(
        select(Playbook.fault, Playbook.action_type, Playbook.trust))).all()
    return {(f, a): float(t) for f, a, t in rows}
