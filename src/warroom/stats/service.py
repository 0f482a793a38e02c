"""Assemble the stats from the repository's figures. Read only: nothing here writes."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.stats import ai as ai_sql
from warroom.stats import repository
from warroom.stats.derived import MILESTONES
from warroom.stats.models import (
    AgentLatency,
    AiStats,
    DayCount,
    DayPercentiles,
    DurationTrend,
    IncidentStats,
    ModelUsage,
    Percentiles,
    PlaybookStats,
    PlaybookTrend,
    ResolutionStats,
    RootCandidateStat,
    ServiceStat,
    ServiceStats,
    StatsRange,
    StatsReport,
    TrustPoint,
)
from warroom.stats.sql import tune_for_reports

TOP_SERVICES = 10


DEFAULT_DAYS = 7.0


class RangeError(ValueError):
    """A period that cannot be read: says which parameter and why."""


def stats_range(*, days: float = DEFAULT_DAYS, since: datetime | None = None,
                until: datetime | None = None, namespace: str | None = None,
                service: str | None = None) -> StatsRange:
    """Build the period: from `since` when given, else the last `days`; up to `until` or now."""
    try:
        if since is not None:
            end = until or datetime.now(UTC)
            return StatsRange(since=since, until=end, namespace=namespace or None,
                              service=service or None)
        return StatsRange.last(days, until=until, namespace=namespace, service=service)
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise RangeError(f"since/until/days: {message}") from exc


async def incidents(session: AsyncSession, q: StatsRange) -> IncidentStats:
    """Count the range's incidents by status, priority, fault class, team, and per day."""
    await tune_for_reports(session)
    counts = await repository.incident_counts(session, q)
    days = await repository.per_day(session, q)
    return IncidentStats(
        range=q, total=sum(c.count for c in counts["status"]),
        by_status=counts["status"], by_priority=counts["priority"],
        by_fault=counts["fault"], by_team=counts["team"],
        per_day=[DayCount(day=d, opened=o, resolved=r) for d, (o, r) in days.items()],
    )


def _change(current: Percentiles, previous: Percentiles) -> float | None:
    if current.p50 is None or not previous.p50:
        return None
    return round(current.p50 / previous.p50 - 1.0, 4)


async def resolution(session: AsyncSession, q: StatsRange) -> ResolutionStats:
    """Return each milestone's P50/P95/max here and in the previous period of the same length."""
    await tune_for_reports(session)
    figures = await repository.resolution(session, q, MILESTONES)
    now, before = figures[repository.NOW], figures[repository.BEFORE]
    trends = []
    for name in MILESTONES:
        current = now.get(name, Percentiles(count=0))
        previous = before.get(name, Percentiles(count=0))
        trends.append(DurationTrend(name=name, current=current, previous=previous,
                                    p50_change=_change(current, previous)))
    return ResolutionStats(
        range=q, previous_range=q.previous, durations=trends,
        recovery_per_day=[DayPercentiles(day=d, recovery=p)
                          for d, p in figures[repository.DAY].items()])


def _latencies(rows: list[tuple[str, int, int, Percentiles]]) -> list[AgentLatency]:
    return [AgentLatency(name=name, turns=turns, degraded=degraded, p50_ms=p.p50, p95_ms=p.p95)
            for name, turns, degraded, p in rows]


def _usage(rows: list[tuple[str, str, int, int, int, int, float]], index: int
           ) -> list[ModelUsage]:
    found: dict[str, list[float]] = {}
    for row in rows:
        entry = found.setdefault(str(row[index]), [0, 0, 0, 0, 0.0])
        for i, value in enumerate(row[2:]):
            entry[i] += value
    usage = [ModelUsage(name=name, turns=int(n), cached=int(c), input_tokens=int(tin),
                        output_tokens=int(tout), cost_usd=round(cost, 6))
             for name, (n, c, tin, tout, cost) in found.items()]
    return sorted(usage, key=lambda u: (-u.cost_usd, -u.turns, u.name))


async def ai(session: AsyncSession, q: StatsRange) -> AiStats:
    """Return the decisions' outcomes, verification success, overrides, agent latency, and
    the language models' tokens and cost."""
    await tune_for_reports(session)
    outcomes, facts = await ai_sql.decision_facts(session, q)
    latency = await ai_sql.turn_latency(session, q)
    usage = await ai_sql.model_usage(session, q)
    verified, success = facts.approved_verified, facts.approved_verified_success
    return AiStats(
        range=q,
        decisions=facts.decisions,
        outcomes=outcomes,
        timed_out=facts.timed_out,
        degraded=await ai_sql.degraded_debates(session, q),
        approved_verified=verified,
        approved_verified_success=success,
        verification_success_share=round(success / verified, 4) if verified else None,
        human_rejections=facts.human_rejections,
        different_action=facts.different_action,
        overrides=facts.human_rejections + facts.different_action,
        challenges=facts.challenges,
        challenges_proved_right=facts.challenges_proved_right,
        agents=_latencies(latency["role"]),
        backends=_latencies(latency["backend"]),
        usage_by_agent=_usage(usage, 0),
        usage_by_model=_usage(usage, 1),
        tokens=sum(row[4] + row[5] for row in usage),
        cost_usd=round(sum(row[6] for row in usage), 6),
    )


async def services(session: AsyncSession, q: StatsRange, *, limit: int = TOP_SERVICES,
                   now: datetime | None = None) -> ServiceStats:
    """Return the most affected services by incident count and by time in incident, and the
    most frequent root candidates apart (see docs/stats.md#services)."""
    await tune_for_reports(session)
    rows = [ServiceStat(namespace=ns, service=svc, incidents=n, seconds_in_incident=round(s, 3))
            for ns, svc, n, s in await repository.services(
                session, q, now=now or datetime.now(UTC), limit=limit)]
    by_count = sorted(rows, key=lambda r: (-r.incidents, r.namespace, r.service))[:limit]
    by_time = sorted(rows, key=lambda r: (-r.seconds_in_incident, r.namespace, r.service))
    roots = [RootCandidateStat(namespace=ns, service=svc, incidents=n, silent=silent)
             for ns, svc, n, silent in await repository.root_candidates(session, q, limit=limit)]
    return ServiceStats(range=q, by_count=by_count, by_time=by_time[:limit],
                        root_candidates=roots)


async def playbooks(session: AsyncSession, q: StatsRange) -> PlaybookStats:
    """Return each playbook's trust at the end of every day it learned in the range."""
    await tune_for_reports(session)
    trust_now = await repository.playbook_trust_now(session)
    trends: dict[str, PlaybookTrend] = {}
    for key, day, trust, updates in await repository.playbook_days(session, q):
        fault, _, action = key.partition("/")
        trend = trends.setdefault(key, PlaybookTrend(
            fault=fault, action_type=action, trust=trust_now.get((fault, action)), points=[]))
        trend.points.append(TrustPoint(day=day, trust=round(trust, 4), updates=updates))
    ordered = sorted(trends.values(), key=lambda t: (-(t.trust or 0.0), t.fault, t.action_type))
    return PlaybookStats(range=q, playbooks=ordered)


async def report(session: AsyncSession, q: StatsRange) -> StatsReport:
    """Return every figure of the range at once."""
    return StatsReport(
        incidents=await incidents(session, q), resolution=await resolution(session, q),
        ai=await ai(session, q), services=await services(session, q),
        playbooks=await playbooks(session, q),
    )
