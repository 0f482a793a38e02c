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
    Select,
    case,
    distinct,
    exists,
    func,
    literal,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import FromClause

from warroom.stats.derived import (
    DECISION_KINDS,
    EVENTS,
    INCIDENT_MILESTONES,
    LEARN_KIND,
    LEARNING,
    MILESTONE_ORDER,
    MILESTONES,
    RECOVERY_BY_DAY,
    SIGNALS,
    kind_is,
)
from warroom.stats.models import Count, Percentiles, StatsRange
from warroom.stats.sql import Walk, grouped, percentiles, seconds_between, utc_day, walked
from warroom.store.tables import Incident, Playbook


def _at(value: datetime) -> ColumnElement[datetime]:
    return literal(value, DateTime(timezone=True))


def range_filter(q: StatsRange, incidents: FromClause) -> list[ColumnElement[bool]]:
    """Select the incidents opened in the range, in the namespace and service asked for, from
    `incidents` (the table or a clause of it read through one of its indexes)."""
    c = incidents.c
    conditions = [c.opened_at >= q.since, c.opened_at < q.until]
    if q.namespace:
        conditions.append(c.namespace == q.namespace)
    if q.service:
        conditions.append(c.service == q.service)
    return conditions


def incident_filter(q: StatsRange) -> list[ColumnElement[bool]]:
    """Select the incidents opened in the range, in the namespace and service asked for."""
    return range_filter(q, Incident.__table__)


def opened_in(q: StatsRange, rows: FromClause) -> list[ColumnElement[bool]]:
    """Select the rows of the range's incidents from a table that carries its incident's
    opening time (migration 0010); the namespace and service filters ask the incidents, since
    an incident's root candidate can change."""
    where = [rows.c.opened_at >= q.since, rows.c.opened_at < q.until]
    if q.namespace or q.service:
        where.append(rows.c.incident_id.in_(select(Incident.id).where(*incident_filter(q))))
    return where


SMALL_SHARE = 4  # a range is small when it holds under a quarter of the incidents


async def is_small(session: AsyncSession, q: StatsRange) -> bool:
    """Tell whether the range holds a small share of the incidents (two counts from indexes).

    Which plan is cheaper depends on that share, which neither database's planner estimates
    well across these joins; the answer is the same either way.
    """
    in_range = select(func.count()).select_from(Incident).where(*incident_filter(q))
    total = select(func.count()).select_from(Incident)
    found, everything = (await session.execute(
        select(in_range.scalar_subquery(), total.scalar_subquery()))).one()
    return int(found) * SMALL_SHARE < int(everything)


def _counts(rows: Sequence[Any]) -> list[Count]:
    found = [Count(key=str(key), count=int(n)) for key, n in rows]
    return sorted(found, key=lambda c: (-c.count, c.key))


# --- incidents ---------------------------------------------------------------------------

async def incident_counts(session: AsyncSession, q: StatsRange) -> dict[str, list[Count]]:
    """Count the range's incidents by status, priority, fault class and team."""
    where = incident_filter(q)
    # one statement for both of the incident's own fields; each incident is one row
    status, priority = func.coalesce(Incident.status, ""), func.coalesce(Incident.priority, "")
    pairs = (await session.execute(
        select(status, priority, func.count()).where(*where).group_by(status, priority))).all()
    out: dict[str, list[Count]] = {}
    for name, index in (("status", 0), ("priority", 1)):
        totals: dict[str, int] = {}
        for row in pairs:
            key = str(row[index])
            totals[key] = totals.get(key, 0) + int(row[2])
        out[name] = _counts(list(totals.items()))
    # each incident counted under its root decisions' fault class and team, read from the
    # decisions' facts alone; an incident with no root decision is undiagnosed and undecided
    total = sum(c.count for c in out["status"])
    k = DECISION_KINDS.c
    kinds = [k.parent_token.is_(None), *opened_in(q, DECISION_KINDS)]
    decided = int((await session.execute(
        select(func.count(distinct(k.incident_id))).where(*kinds))).scalar_one())
    for name, column_, none in (("fault", k.fault, "undiagnosed"), ("team", k.team, "undecided")):
        # one expression object: PostgreSQL matches the GROUP BY to the column by its text
        kind = func.coalesce(column_, none)
        found: dict[str, int] = {str(v): int(n) for v, n in (await session.execute(
            select(kind, func.count(distinct(k.incident_id))).where(*kinds).group_by(kind)
        )).all()}
        if total > decided:
            found[none] = found.get(none, 0) + total - decided
        out[name] = _counts(list(found.items()))
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

NOW, BEFORE, DAY = "now", "before", "day"


def _span(q: StatsRange) -> StatsRange:
    """The range and the period of the same length before it, with the same filters."""
    return q.model_copy(update={"since": q.previous.since})


def _milestones(q: StatsRange, *, materialized: bool = False) -> Any:
    """One row per incident of the range and of the period before it: its milestones' seconds.

    The seconds are columns of the incident (migration 0010), read from one covering index. The
    rows are a CTE, read once per milestone; `materialized` says so to PostgreSQL, which would
    otherwise inline it and scan the index once per aggregate reading it.
    """
    m = INCIDENT_MILESTONES.c
    period = case((m.opened_at >= _at(q.since), NOW), else_=BEFORE).label("period")
    stmt = select(period, utc_day(m.opened_at).label("day"),
                  *[m[f"{name}_s"].label(name) for name in MILESTONES]
                  ).where(*range_filter(_span(q), INCIDENT_MILESTONES))
    rows = stmt.cte("milestones")
    return rows.prefix_with("MATERIALIZED") if materialized else rows


async def resolution(session: AsyncSession, q: StatsRange, milestones: Sequence[str]
                     ) -> dict[str, dict[str, Percentiles]]:
    """Return the milestones' P50/P95/max now and in the period before, and recovery per day.

    `{"now": {milestone: ...}, "before": {...}, "day": {YYYY-MM-DD: recovery}}`. PostgreSQL
    ranks with `percentile_disc`; SQLite ranks a small share of the history with window
    functions and walks a large one's indexes to each rank (`sql.walked`).
    """
    if session.get_bind().dialect.name == "postgresql":
        return await _resolution_pg(session, _milestones(q, materialized=True), milestones)
    if not await is_small(session, _span(q)):
        return await _resolution_walked(session, q, milestones)
    rows = _milestones(q)
    parts = [select((rows.c.period + ":" + name).label("name"), rows.c[name].label("v"))
             for name in milestones]
    parts.append(select((DAY + ":" + rows.c.day).label("name"), rows.c.recovery.label("v"))
                 .where(rows.c.period == NOW))
    ranked = await percentiles(session, select(union_all(*parts).subquery()))
    out: dict[str, dict[str, Percentiles]] = {NOW: {}, BEFORE: {}, DAY: {}}
    for key, found in ranked.items():
        period, _, name = key.partition(":")
        out[period][name] = found
    out[DAY] = dict(sorted(out[DAY].items()))
    return out


async def _resolution_walked(session: AsyncSession, q: StatsRange, milestones: Sequence[str]
                             ) -> dict[str, dict[str, Percentiles]]:
    """SQLite over a large share of the history: count each milestone per period, walk each
    duration's index to its ranks, and rank each day's recoveries from the index on the day
    (already in order: nothing to sort)."""
    windows = {NOW: q, BEFORE: q.previous}
    m = INCIDENT_MILESTONES.c
    now = m.opened_at >= _at(q.since)
    # conditional counts, not GROUP BY the period: one pass over the index and nothing to sort
    counted = (await session.execute(
        select(*[func.count(case((now if key == NOW else ~now, m[f"{name}_s"])))
                 for key in windows for name in milestones])
        .where(*range_filter(_span(q), INCIDENT_MILESTONES)))).one()
    walks = []
    for w, (key, window) in enumerate(windows.items()):
        for i, name in enumerate(milestones):
            table = MILESTONE_ORDER[name]
            walks.append(Walk(key=f"{key}:{name}", count=int(counted[w * len(milestones) + i]),
                              table=table, value=table.c[f"{name}_s"],
                              where=tuple(range_filter(window, table))))
    out: dict[str, dict[str, Percentiles]] = {NOW: {}, BEFORE: {}, DAY: {}}
    for key, found in (await walked(session, walks)).items():
        if found.count:
            group, _, name = key.partition(":")
            out[group][name] = found
    # each day's recoveries, numbered in one pass over the index on the day
    r = RECOVERY_BY_DAY.c
    out[DAY] = await grouped(session, RECOVERY_BY_DAY, utc_day(r.opened_at), r.recovery_s,
                             range_filter(q, RECOVERY_BY_DAY))
    return out


def _ranked(value: Any) -> list[Any]:
    """Count, nearest-rank P50 and P95 (`percentile_disc`) and max of one column."""
    return [func.count(value), func.percentile_disc(0.5).within_group(value),
            func.percentile_disc(0.95).within_group(value), func.max(value)]


def _found(n: int, p50: float | None, p95: float | None, top: float | None) -> Percentiles:
    return Percentiles(count=int(n), p50=p50, p95=p95, max=top)


async def _resolution_pg(session: AsyncSession, rows: Any, milestones: Sequence[str]
                         ) -> dict[str, dict[str, Percentiles]]:
    """PostgreSQL: each milestone's percentiles as aggregates over its own column (no union of
    every value under a text key to sort), per period and, with grouping sets in the same
    pass over the milestones, per period and day (recovery per day)."""
    out: dict[str, dict[str, Percentiles]] = {NOW: {}, BEFORE: {}, DAY: {}}
    aggregates = [agg for name in milestones for agg in _ranked(rows.c[name])]
    stmt = select(func.grouping(rows.c.day), rows.c.period, rows.c.day, *aggregates).group_by(
        func.grouping_sets(rows.c.period, tuple_(rows.c.period, rows.c.day)))
    for by_period, period, day, *values in (await session.execute(stmt)).all():
        for i, name in enumerate(milestones):
            n, p50, p95, top = values[4 * i:4 * i + 4]
            if not n:
                continue
            if by_period:
                out[str(period)][name] = _found(n, p50, p95, top)
            elif period == NOW and name == "recovery":
                out[DAY][str(day)] = _found(n, p50, p95, top)
    out[DAY] = dict(sorted(out[DAY].items()))
    return out


# --- services and playbooks --------------------------------------------------------------

async def services(session: AsyncSession, q: StatsRange, *, now: datetime, limit: int
                   ) -> list[tuple[str, str, int, float]]:
    """Return `(namespace, service, incidents, seconds in incident)` for the top services.

    A service is affected by an incident when one of the incident's alerts is about it (the
    signals' labels), not when it is only the incident's root candidate: since cascades, the
    root candidate may be a dependency that never alerted. Each incident counts once per
    service; its time in incident is the incident's, from opening to resolving.
    """
    end = _at(min(now, q.until))
    sig = SIGNALS.c
    namespace = func.coalesce(func.nullif(sig.alerted_namespace, ""), Incident.namespace)
    pairs = (select(namespace.label("namespace"), sig.alerted_service.label("service"),
                    Incident.id.label("id"),
                    seconds_between(Incident.opened_at,
                                    func.coalesce(Incident.resolved_at, end)).label("s"))
             .join(SIGNALS, sig.incident_id == Incident.id)
             .where(*incident_filter(q)).distinct().subquery())
    base = (select(pairs.c.namespace, pairs.c.service, func.count().label("n"),
                   func.sum(pairs.c.s).label("s"))
            .where(pairs.c.service != "").group_by(pairs.c.namespace, pairs.c.service))
    return await _top(session, base, limit)


async def root_candidates(session: AsyncSession, q: StatsRange, *, limit: int
                          ) -> list[tuple[str, str, int, int]]:
    """Return `(namespace, service, incidents, silent)` for the most frequent root candidates,
    `silent` counting the incidents in which the root candidate raised no alert itself."""
    alerted = exists().where(SIGNALS.c.incident_id == Incident.id,
                             SIGNALS.c.alerted_service == Incident.service)
    stmt = (select(Incident.namespace, Incident.service, func.count().label("n"),
                   func.sum(case((alerted, 0), else_=1)).label("silent"))
            .where(*incident_filter(q), Incident.service != "")
            .group_by(Incident.namespace, Incident.service)
            .order_by(func.count().desc(), Incident.namespace, Incident.service).limit(limit))
    return [(ns, svc, int(n), int(silent or 0))
            for ns, svc, n, silent in (await session.execute(stmt)).all()]


async def _top(session: AsyncSession, base: Select[Any], limit: int
               ) -> list[tuple[str, str, int, float]]:
    """The top `limit` groups by incidents and by seconds, in one statement (a CTE)."""
    groups = base.cte("service_groups")
    tops = [select(groups).order_by(groups.c[order].desc(), groups.c.namespace,
                                    groups.c.service).limit(limit).subquery()
            for order in ("n", "s")]
    stmt = union(select(tops[0]), select(tops[1]))
    return [(ns, svc, int(n), max(float(s or 0.0), 0.0))
            for ns, svc, n, s in (await session.execute(stmt)).all()]


async def playbook_days(session: AsyncSession, q: StatsRange
                        ) -> list[tuple[str, str, float, int]]:
    """Return `(playbook key, day, trust at the day's end, updates that day)`.

    The learning events are grouped per playbook and day from their index (the day's last
    event and the count), then only each group's last event is read for its trust.
    """
    e = LEARNING.c
    day = utc_day(e.at)
    stmt = select(e.learn_playbook.label("playbook"), day.label("day"),
                  func.max(e.seq).label("last"), func.count().label("n")
                  ).where(kind_is(LEARNING, LEARN_KIND), e.at >= q.since, e.at < q.until,
                          e.learn_playbook.is_not(None))
    if q.namespace or q.service:
        stmt = stmt.join(Incident, Incident.id == e.incident_id)
        if q.namespace:
            stmt = stmt.where(Incident.namespace == q.namespace)
        if q.service:
            stmt = stmt.where(Incident.service == q.service)
    groups = stmt.group_by(e.learn_playbook, day).subquery()
    last = EVENTS.c
    rows = (await session.execute(
        select(groups.c.playbook, groups.c.day, last.learn_trust, groups.c.n)
        .join(EVENTS, last.seq == groups.c.last)
        .order_by(groups.c.playbook, groups.c.day))).all()
    # a day whose last event carried no numeric trust has no point (the column is NULL)
    return [(str(p), str(d), float(t), int(n)) for p, d, t, n in rows if t is not None]


async def playbook_trust_now(session: AsyncSession) -> dict[tuple[str, str], float]:
    """Return the current trust of every playbook."""
    rows = (await session.execute(
        select(Playbook.fault, Playbook.action_type, Playbook.trust))).all()
    return {(f, a): float(t) for f, a, t in rows}
