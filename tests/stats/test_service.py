"""The stats against figures recomputed in Python from the same seeded rows (SQLite, PostgreSQL)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.bench.stats_seed import seed
from warroom.stats import ai as ai_sql
from warroom.stats import service
from warroom.stats.models import Percentiles, StatsRange
from warroom.store.audit import verify_chain
from warroom.store.tables import (
    Approval,
    AuditEvent,
    Decision,
    Execution,
    Incident,
    LLMTurnRow,
    Signal,
)

END = datetime(2026, 12, 1, tzinfo=UTC)


def _nearest_rank(values: list[float]) -> Percentiles:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return Percentiles(count=0)
    return Percentiles(count=n, p50=ordered[math.ceil(0.5 * n) - 1],
                       p95=ordered[math.ceil(0.95 * n) - 1], max=ordered[-1])


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _close(got: Percentiles, want: Percentiles) -> bool:
    if got.count != want.count:
        return False
    return all((a is None and b is None) or (a is not None and b is not None
                                             and abs(a - b) < 0.01)
               for a, b in ((got.p50, want.p50), (got.p95, want.p95), (got.max, want.max)))


async def _history(engine: AsyncEngine) -> None:
    await seed(engine, incidents=300, days=20, end=END, seed=11)


async def test_figures_match_a_recomputation_of_the_stored_rows(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _history(engine)
    q = StatsRange(since=END - timedelta(days=10), until=END)
    async with sessions() as session:
        incidents = [i for i in (await session.scalars(select(Incident))).all()
                     if q.since <= _utc(i.opened_at) < q.until]
        ids = {i.id for i in incidents}
        decisions = [d for d in (await session.scalars(select(Decision))).all()
                     if d.incident_id in ids]
        approvals = (await session.scalars(select(Approval))).all()
        executions = (await session.scalars(select(Execution))).all()
        turns = [e for e in (await session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "agent.turn"))).all()
            if e.incident_id in ids]
        model_turns = [m for m in (await session.scalars(select(LLMTurnRow))).all()
                       if m.incident_id in ids]
        report = await service.report(session, q)
        chain = await verify_chain(session)

    assert chain.ok  # the seeded trail is a real hash chain
    assert report.incidents.total == len(incidents) > 100
    assert {c.key: c.count for c in report.incidents.by_status} == dict(
        Counter(i.status for i in incidents))
    assert {c.key: c.count for c in report.incidents.by_priority} == dict(
        Counter(i.priority for i in incidents))
    assert {c.key: c.count for c in report.incidents.by_fault} == dict(
        Counter(d.fault for d in decisions))
    assert sum(d.opened for d in report.incidents.per_day) == len(incidents)

    opened = {i.id: _utc(i.opened_at) for i in incidents}
    recovery = [(_utc(i.resolved_at) - _utc(i.opened_at)).total_seconds()
                for i in incidents if i.resolved_at is not None]
    ready = [(_utc(d.ready_at) - opened[d.incident_id]).total_seconds()
             for d in decisions if d.ready_at is not None]
    by_token = {d.token: d for d in decisions}
    started = [(_utc(e.started_at) - opened[by_token[e.decision_token].incident_id])
               .total_seconds() for e in executions if e.decision_token in by_token]
    assert _close(report.resolution.get("recovery").current, _nearest_rank(recovery))
    assert _close(report.resolution.get("decision_ready").current, _nearest_rank(ready))
    assert _close(report.resolution.get("execution").current, _nearest_rank(started))
    assert report.resolution.get("recovery").previous.count > 0  # the 10 days before
    by_day: dict[str, list[float]] = {}
    for i in incidents:
        if i.resolved_at is not None:
            by_day.setdefault(_utc(i.opened_at).date().isoformat(), []).append(
                (_utc(i.resolved_at) - _utc(i.opened_at)).total_seconds())
    assert [d.day for d in report.resolution.recovery_per_day] == sorted(by_day)
    assert all(_close(d.recovery, _nearest_rank(by_day[d.day]))
               for d in report.resolution.recovery_per_day)

    policy = {a.decision_token for a in approvals if a.via == "policy"}
    human_ok = {a.decision_token for a in approvals if a.via != "policy"
                and a.verdict == "approve"}
    expected: Counter[str] = Counter()
    for d in decisions:
        expected["auto_executed" if d.token in policy else "rejected" if d.status == "rejected"
                 else "expired" if d.status == "expired" else "approved" if d.token in human_ok
                 else "escalated" if d.status == "completed" else "pending"] += 1
    assert {c.key: c.count for c in report.ai.outcomes} == dict(expected)
    assert report.ai.decisions == len(decisions)
    assert report.ai.human_rejections == sum(1 for a in approvals if a.verdict == "reject"
                                             and a.decision_token in by_token)

    roles = {a.name: a for a in report.ai.agents}
    for role in ("diagnostician", "critic"):
        latencies = [float(t.payload["latency_ms"]) for t in turns
                     if t.payload["role"] == role]
        want = _nearest_rank(latencies)
        assert roles[role].turns == len(latencies)
        assert roles[role].p50_ms == want.p50 and roles[role].p95_ms == want.p95
    assert roles["critic"].degraded == sum(1 for t in turns if t.payload["role"] == "critic"
                                           and t.payload["degraded"])
    assert report.ai.degraded == len({t.session_id for t in turns if t.payload["degraded"]})
    assert [(b.name, b.turns) for b in report.ai.backends] == sorted(
        Counter(str(t.payload.get("backend", "rules")) for t in turns).items())

    # tokens and cost of the language-model turns, per agent and per model
    per_agent: dict[str, list[float]] = {}
    per_model: dict[str, list[float]] = {}
    for m in model_turns:
        for key, into in ((m.role, per_agent), (m.model, per_model)):
            entry = into.setdefault(key, [0, 0, 0, 0.0])
            entry[0] += 1
            entry[1] += m.input_tokens
            entry[2] += m.output_tokens
            entry[3] += m.cost_usd
    for got, want in ((report.ai.usage_by_agent, per_agent),
                      (report.ai.usage_by_model, per_model)):
        assert {u.name: (u.turns, u.input_tokens, u.output_tokens) for u in got} == {
            k: (int(v[0]), int(v[1]), int(v[2])) for k, v in want.items()}
        assert all(abs(u.cost_usd - want[u.name][3]) < 1e-5 for u in got)
    assert len(per_model) == 2 and len(per_agent) == 5
    assert report.ai.tokens == sum(m.input_tokens + m.output_tokens for m in model_turns) > 0
    assert abs(report.ai.cost_usd - sum(m.cost_usd for m in model_turns)) < 1e-5

    top = report.services.by_count[0]
    assert top.incidents == max(Counter((i.namespace, i.service) for i in incidents).values())
    assert report.playbooks.playbooks and all(p.points for p in report.playbooks.playbooks)


async def test_filters_narrow_every_figure_to_one_service(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _history(engine)
    async with sessions() as session:
        one = (await session.scalars(select(Incident).limit(1))).one()
        q = StatsRange(since=END - timedelta(days=30), until=END, namespace=one.namespace,
                       service=one.service)
        mine = [i for i in (await session.scalars(select(Incident))).all()
                if i.service == one.service and i.namespace == one.namespace
                and q.since <= _utc(i.opened_at) < q.until]
        report = await service.report(session, q)
    assert report.incidents.total == len(mine)
    assert [f"{s.namespace}/{s.service}" for s in report.services.by_count] == [
        f"{one.namespace}/{one.service}"]
    assert report.ai.decisions == len(mine)
    assert sum(a.turns for a in report.ai.agents) == 5 * len(mine)


async def test_an_empty_range_answers_zeros_not_errors(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        report = await service.report(session, StatsRange.last(7))
    assert report.incidents.total == 0 and report.ai.outcomes == []
    assert report.resolution.get("recovery").current == Percentiles(count=0)
    assert report.ai.verification_success_share is None


async def test_affected_services_are_those_that_alerted_and_root_candidates_apart(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A cascade's root candidate that never alerted is no affected service (the demo's
    shop/cache): it is reported as a root candidate, with the incidents it stayed silent in."""
    opened = END - timedelta(hours=3)
    async with sessions() as session, session.begin():
        for n, (root, alerted) in enumerate((("cache", ("checkout", "cart")),
                                             ("cache", ("checkout",)),
                                             ("search", ("search", "api")))):
            iid = f"inc-{n}"
            session.add(Incident(
                id=iid, group_key=f"k{n}", status="resolved", priority="P2", namespace="shop",
                service=root, title="", opened_at=opened, updated_at=opened,
                resolved_at=opened + timedelta(minutes=10), last_signal_at=opened))
            await session.flush()
            for svc in alerted:
                # `app` is read when `service` is missing, as ingestion reads it
                labels = {"app": svc} if svc == "api" else {"service": svc}
                session.add(Signal(
                    id=f"sig-{n}-{svc}", fingerprint=f"fp-{n}-{svc}", incident_id=iid,
                    source="alertmanager", status="resolved", alertname="HighErrorRatio",
                    labels={**labels, "namespace": "shop"}, annotations={},
                    starts_at=opened, received_at=opened, updated_at=opened))
            session.add(Signal(  # a second alert of the same service counts the incident once
                id=f"sig-{n}-again", fingerprint=f"fp-{n}-again", incident_id=iid,
                source="alertmanager", status="resolved", alertname="HighLatency",
                labels={"service": alerted[0], "namespace": "shop"}, annotations={},
                starts_at=opened, received_at=opened, updated_at=opened))
    async with sessions() as session:
        stats = await service.services(session, StatsRange(since=END - timedelta(days=1),
                                                           until=END))
    affected = {f"{s.namespace}/{s.service}": (s.incidents, s.seconds_in_incident)
                for s in stats.by_count}
    assert affected == {"shop/checkout": (2, 1200.0), "shop/cart": (1, 600.0),
                        "shop/search": (1, 600.0), "shop/api": (1, 600.0)}
    assert [s.service for s in stats.by_count][0] == "checkout"
    assert "shop/cache" not in affected
    roots = {f"{r.namespace}/{r.service}": (r.incidents, r.silent)
             for r in stats.root_candidates}
    assert roots == {"shop/cache": (2, 2), "shop/search": (1, 0)}


async def test_walking_the_indexes_ranks_as_the_window_functions_do(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], monkeypatch: Any,
) -> None:
    """A small share of the history is ranked with window functions, a large one by walking
    each index to its ranks (SQLite): the same milestones, recoveries per day and latencies."""
    from warroom.stats import repository

    await _history(engine)
    ranges = [StatsRange(since=END - timedelta(days=10), until=END),
              StatsRange(since=END - timedelta(days=10), until=END, namespace="ns-1")]
    for q in ranges:
        found = []
        for small in (True, False):
            async def pick(session: AsyncSession, q: StatsRange, small: bool = small) -> bool:
                return small

            monkeypatch.setattr(repository, "is_small", pick)
            monkeypatch.setattr(ai_sql, "is_small", pick)
            async with sessions() as session:
                found.append((await service.resolution(session, q),
                              await ai_sql.turn_latency(session, q)))
            monkeypatch.undo()
        assert found[0] == found[1]
        resolution, latency = found[0]
        assert len(resolution.recovery_per_day) >= 5
        assert all(d.current.count and d.current.p95 is not None for d in resolution.durations)
        assert sum(n for _, n, _, _ in latency["role"]) > 100
    async with sessions() as session:
        assert not await repository.is_small(session, ranges[0])  # half of the history
        assert await repository.is_small(session, StatsRange(since=END - timedelta(days=2),
                                                              until=END))
