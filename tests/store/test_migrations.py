from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.store import audit
from warroom.store.db import make_sessionmaker, transaction
from warroom.store.migrate import alembic_config, upgrade


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _hash_is_unique(engine: AsyncEngine) -> bool:
    def check(connection: Connection) -> bool:
        inspector: Any = inspect(connection)
        constraints = inspector.get_unique_constraints("audit_events")
        indexes = inspector.get_indexes("audit_events")
        return any(c["column_names"] == ["hash"] for c in constraints) or any(
            i["column_names"] == ["hash"] and i["unique"] for i in indexes
        )

    async with engine.connect() as conn:
        return bool(await conn.run_sync(check))


async def test_0002_keeps_the_trail_and_its_protection_without_the_hash_index(
    blank_engine: AsyncEngine,
) -> None:
    await upgrade(blank_engine, "0001")
    sessions = make_sessionmaker(blank_engine)
    events = [audit.NewEvent(kind="before", payload={"i": i}, incident_id="inc") for i in range(5)]
    async with transaction(sessions) as session:
        await audit.append_many(session, events)
    assert await _hash_is_unique(blank_engine)

    await upgrade(blank_engine)

    assert not await _hash_is_unique(blank_engine)
    async with transaction(sessions) as session:
        await audit.append(session, kind="after", payload={}, incident_id="inc")
    async with sessions() as session:
        assert await audit.verify_chain(session) == audit.ChainReport(ok=True, checked=6)
        assert len(await audit.list_events(session, incident_id="inc")) == 6
    for statement in ("UPDATE audit_events SET kind = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with blank_engine.begin() as conn:
                await conn.execute(text(statement))

    await _downgrade(blank_engine, "0001")

    assert await _hash_is_unique(blank_engine)
    async with sessions() as session:
        assert (await audit.verify_chain(session)).checked == 6


async def _seeded_at(engine: AsyncEngine, revision: str, *, seed: int) -> datetime:
    """Seed 40 incidents into a database at `revision`, then upgrade it to the head; return
    the time the tests write at, two days after the seeded history ends."""
    from warroom.bench.stats_seed import seed as seed_history

    end = datetime(2026, 12, 1, tzinfo=UTC)
    await upgrade(engine, revision)
    await seed_history(engine, incidents=40, days=2, end=end - timedelta(days=2), seed=seed)
    await upgrade(engine)
    return end


async def _derived(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """The stats' derived columns (migration 0009), next to the JSON they come from."""
    queries = {
        "decisions": "SELECT token, package_team FROM decisions ORDER BY token",
        "signals": "SELECT id, alerted_namespace, alerted_service FROM signals ORDER BY id",
        "learning": "SELECT seq, learn_playbook, learn_trust FROM audit_events "
                    "WHERE kind = 'learn.updated' ORDER BY seq",
        "ready": "SELECT seq, ready_timeout FROM audit_events "
                 "WHERE kind = 'decision.ready' ORDER BY seq",
        "other": "SELECT count(*) FROM audit_events WHERE kind NOT IN "
                 "('learn.updated', 'decision.ready') AND (learn_playbook IS NOT NULL "
                 "OR learn_trust IS NOT NULL OR ready_timeout IS NOT NULL)",
        "executions": "SELECT decision_token, action_type FROM executions ORDER BY id",
    }
    async with engine.connect() as conn:
        return {name: [tuple(row) for row in (await conn.execute(text(sql))).all()]
                for name, sql in queries.items()}


async def _expected(engine: AsyncEngine) -> dict[str, list[tuple[Any, ...]]]:
    """The same values read out of the rows' JSON in Python."""
    from warroom.store.tables import AuditEvent, Decision, Execution, Signal

    names = ("service", "app", "app_kubernetes_io_name", "deployment", "statefulset",
             "daemonset", "job")
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        decisions = (await session.scalars(select(Decision).order_by(Decision.token))).all()
        signals = (await session.scalars(select(Signal).order_by(Signal.id))).all()
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
        executions = (await session.scalars(select(Execution).order_by(Execution.id))).all()
    return {
        "decisions": [(d.token, d.package.team if d.package else None) for d in decisions],
        "signals": [(s.id, s.labels.get("namespace") or "",
                     next((s.labels[n] for n in names if s.labels.get(n)), ""))
                    for s in signals],
        "learning": [(e.seq, e.payload["playbook"],
                      e.payload["trust_after"] if isinstance(e.payload["trust_after"], float)
                      else None)
                     for e in events if e.kind == "learn.updated"],
        "ready": [(e.seq, int(e.payload["package_status"] == "timeout"))
                  for e in events if e.kind == "decision.ready"],
        "other": [(0,)],
        "executions": [(x.decision_token, x.action["type"]) for x in executions],
    }


async def test_0009_derives_the_stats_facts_of_stored_rows_and_of_every_new_write(
    blank_engine: AsyncEngine,
) -> None:
    from warroom.store.tables import Decision, Execution, Incident, Signal

    end = await _seeded_at(blank_engine, "0008", seed=3)

    backfilled = await _derived(blank_engine)
    assert backfilled == await _expected(blank_engine)
    assert len(backfilled["learning"]) > 5 and len(backfilled["decisions"]) == 40
    assert len(backfilled["ready"]) == 40 and len(backfilled["executions"]) > 5

    # rows written after the migration by the ordinary inserts and updates
    sessions = make_sessionmaker(blank_engine)
    async with transaction(sessions) as session:
        session.add(Incident(id="inc-x", group_key="x", status="open", priority="P2",
                             namespace="shop", service="api", title="", opened_at=end,
                             updated_at=end, last_signal_at=end))
        await session.flush()
        session.add(Signal(id="sig-x", fingerprint="fp-x", incident_id="inc-x",
                           source="alertmanager", status="firing", alertname="Down",
                           labels={"service": "", "app": "api"}, annotations={},
                           starts_at=end, received_at=end, updated_at=end))
        await audit.append(session, kind="learn.updated", incident_id="inc-x",
                           payload={"playbook": "bad_deploy/rollout_undo", "trust_after": 0.7})
        await audit.append(session, kind="decision.ready", incident_id="inc-x",
                           payload={"package_status": "timeout"})
        # a malformed event is still recorded: its derived trust is NULL, not an error
        await audit.append(session, kind="learn.updated", incident_id="inc-x",
                           payload={"playbook": "odd/one", "trust_after": "high"})
        decision = (await session.scalars(select(Decision).limit(1))).one()
        assert decision.package is not None
        decision.package = decision.package.model_copy(update={"team": "NEWTEAM"})
        session.add(Execution(decision_token=decision.token, idempotency_key="exec-x",
                              executor="shadow", status="started", action={"type": "scale"},
                              started_at=end))
    async with transaction(sessions) as session:
        signal = await session.get(Signal, "sig-x")
        assert signal is not None
        signal.labels = {"deployment": "api-v2", "namespace": "other"}
    written = await _derived(blank_engine)
    assert written == await _expected(blank_engine)
    assert ("sig-x", "other", "api-v2") in written["signals"]
    assert written["learning"][-2][1:] == ("bad_deploy/rollout_undo", 0.7)
    assert written["learning"][-1][1:] == ("odd/one", None)
    assert written["ready"][-1][1] == 1
    assert (decision.token, "NEWTEAM") in written["decisions"]
    assert (decision.token, "scale") in written["executions"]

    await _downgrade(blank_engine, "0008")
    async with blank_engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("decisions")})
    assert "package_team" not in columns


async def _folded(engine: AsyncEngine) -> dict[str, Any]:
    """The facts migration 0010's triggers fold into incidents, decision_facts and agent_turns."""
    queries = {
        "incidents": "SELECT id, acknowledge_s, decision_ready_s, execution_s, recovery_s "
                     "FROM incidents ORDER BY id",
        "decisions": "SELECT token, approved, human_rejected, verified, timed_out, "
                     "executed_low, executed_high, challenges, challenges_right, d.status, "
                     "d.action_type, d.fault, d.team, d.parent_token, "
                     "d.opened_at = i.opened_at FROM decision_facts d "
                     "JOIN incidents i ON i.id = d.incident_id ORDER BY token",
        "turns": "SELECT t.seq, t.incident_id, t.role, t.backend, t.latency_ms, t.degraded, "
                 "t.opened_at = i.opened_at FROM agent_turns t "
                 "JOIN incidents i ON i.id = t.incident_id ORDER BY t.seq",
        "llm": "SELECT l.id, l.opened_at = i.opened_at FROM llm_turns l "
               "JOIN incidents i ON i.id = l.incident_id ORDER BY l.id",
    }
    async with engine.connect() as conn:
        found = {name: [tuple(row) for row in (await conn.execute(text(sql))).all()]
                 for name, sql in queries.items()}
    found["incidents"] = [(i, *(None if v is None else round(float(v), 3) for v in values))
                          for i, *values in found["incidents"]]
    found["turns"] = [(*row[:4], row[4], row[5], bool(row[6])) for row in found["turns"]]
    found["llm"] = [(i, bool(same)) for i, same in found["llm"]]
    found["decisions"] = [(*row[:-1], bool(row[-1])) for row in found["decisions"]]
    return found


async def _recomputed(engine: AsyncEngine) -> dict[str, Any]:
    """The same facts computed in Python from the rows they come from."""
    from warroom.store.tables import (
        Approval,
        ChallengeOutcome,
        Decision,
        Execution,
        Incident,
        LLMTurnRow,
        Verification,
    )
    from warroom.store.tables import AuditEvent as Event

    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        incidents = (await session.scalars(select(Incident).order_by(Incident.id))).all()
        decisions = (await session.scalars(select(Decision).order_by(Decision.token))).all()
        approvals = (await session.scalars(select(Approval))).all()
        verifications = (await session.scalars(select(Verification))).all()
        executions = (await session.scalars(select(Execution))).all()
        challenges = (await session.scalars(select(ChallengeOutcome))).all()
        events = (await session.scalars(select(Event).order_by(Event.seq))).all()
        llm = (await session.scalars(select(LLMTurnRow).order_by(LLMTurnRow.id))).all()

    def seconds(opened: Any, at: Any) -> float | None:
        return None if at is None else round((at - opened).total_seconds(), 3)

    incident_of = {d.token: d.incident_id for d in decisions}
    out: dict[str, Any] = {"incidents": [], "decisions": [], "turns": [], "llm": []}
    for i in incidents:
        mine = [d for d in decisions if d.incident_id == i.id]
        ready = [d.ready_at for d in mine if d.ready_at is not None]
        started = [e.started_at for e in executions if incident_of[e.decision_token] == i.id]
        out["incidents"].append((
            i.id, seconds(i.opened_at, min((d.created_at for d in mine), default=None)),
            seconds(i.opened_at, min(ready, default=None)),
            seconds(i.opened_at, min(started, default=None)),
            seconds(i.opened_at, i.resolved_at)))
    for d in decisions:
        mine_a = [a for a in approvals if a.decision_token == d.token]
        types = [e.action["type"] for e in executions if e.decision_token == d.token]
        mine_c = [c for c in challenges if c.decision_token == d.token]
        out["decisions"].append((
            d.token,
            max((0 if a.verdict != "approve" else 2 if a.via == "policy" else 1
                 for a in mine_a), default=0),
            max((int(a.verdict == "reject" and a.via != "policy") for a in mine_a), default=0),
            max((2 if v.verdict == "success" else 1 for v in verifications
                 if v.decision_token == d.token), default=0),
            max((int(e.payload.get("package_status") == "timeout") for e in events
                 if e.kind == "decision.ready" and e.decision_token == d.token), default=0),
            min(types, default=None), max(types, default=None),
            len(mine_c), sum(1 for c in mine_c if c.proved_right), d.status, d.action_type,
            d.fault, d.package.team if d.package else None, d.parent_token, True))
    known = {i.id for i in incidents}
    out["turns"] = [(e.seq, e.incident_id, e.payload.get("role") or "",
                     e.payload.get("backend") or "rules", e.payload.get("latency_ms"),
                     int(bool(e.payload.get("degraded"))), True)
                    for e in events if e.kind == "agent.turn" and e.incident_id in known]
    out["llm"] = [(t.id, True) for t in llm if t.incident_id in known]
    return out


async def test_0010_folds_each_new_fact_into_the_rows_the_stats_read(
    blank_engine: AsyncEngine,
) -> None:
    from warroom.store.tables import (
        Approval,
        ChallengeOutcome,
        Decision,
        Execution,
        Incident,
        LLMTurnRow,
        Verification,
    )

    end = await _seeded_at(blank_engine, "0009", seed=5)

    backfilled = await _folded(blank_engine)
    assert backfilled == await _recomputed(blank_engine)
    assert len(backfilled["turns"]) >= 40 * 5 and len(backfilled["llm"]) > 10
    assert any(row[3] is not None for row in backfilled["incidents"])  # some were executed

    # a decision's life written after the migration by the ordinary inserts and updates
    sessions = make_sessionmaker(blank_engine)
    t0 = end
    async with transaction(sessions) as session:
        session.add(Incident(id="inc-x", group_key="x", status="open", priority="P2",
                             namespace="shop", service="api", title="", opened_at=t0,
                             updated_at=t0, last_signal_at=t0))
        await session.flush()
        for n, created in enumerate((t0 + timedelta(seconds=9), t0 + timedelta(seconds=4))):
            session.add(Decision(token=f"tok-{n}", incident_id="inc-x", status="analyzing",
                                 created_at=created, updated_at=created))
        await session.flush()
        await audit.append(session, kind="agent.turn", incident_id="inc-x", session_id="s-x",
                           payload={"role": "critic", "backend": "hybrid", "latency_ms": 42.5,
                                    "degraded": True})
        session.add(LLMTurnRow(incident_id="inc-x", session_id="s-x", role="critic",
                               mode="review", status="accepted", model="m", at=t0))
    async with transaction(sessions) as session:
        first = await session.get(Decision, "tok-0")
        assert first is not None
        first.ready_at, first.action_type = t0 + timedelta(seconds=30), "scale"
        first.fault = "bad_deploy"
        await audit.append(session, kind="decision.ready", incident_id="inc-x",
                           decision_token="tok-0", payload={"package_status": "timeout"})
        session.add_all([
            Approval(decision_token="tok-0", approver="ann", verdict="reject", via="web",
                     at=t0),
            Approval(decision_token="tok-0", approver="policy", verdict="approve", via="policy",
                     at=t0),
            Execution(decision_token="tok-0", idempotency_key="x-1", executor="shadow",
                      status="started", action={"type": "scale"},
                      started_at=t0 + timedelta(seconds=50)),
            Execution(decision_token="tok-0", idempotency_key="x-2", executor="shadow",
                      status="started", action={"type": "rollout_undo"},
                      started_at=t0 + timedelta(seconds=40)),
            Verification(decision_token="tok-0", verdict="degraded", score=0.4, details={},
                         at=t0),
            Verification(decision_token="tok-0", verdict="success", score=0.9, details={},
                         at=t0),
            ChallengeOutcome(decision_token="tok-0", question="q", severity="high", text="t",
                             proved_right=True, at=t0),
            ChallengeOutcome(decision_token="tok-0", question="q2", severity="low", text="t",
                             proved_right=False, at=t0),
        ])
    async with transaction(sessions) as session:
        first, second = await session.get(Decision, "tok-0"), await session.get(Decision, "tok-1")
        incident = await session.get(Incident, "inc-x")
        assert first is not None and second is not None and incident is not None
        second.ready_at = t0 + timedelta(seconds=20)  # ready before the first one
        first.status = "completed"
        incident.resolved_at, incident.status = t0 + timedelta(seconds=600), "resolved"

    written = await _folded(blank_engine)
    assert written == await _recomputed(blank_engine)
    assert ("inc-x", 4.0, 20.0, 40.0, 600.0) in written["incidents"]
    assert ("tok-0", 2, 1, 2, 1, "rollout_undo", "scale", 2, 1, "completed", "scale",
            "bad_deploy", None, None, True) in written["decisions"]
    assert written["turns"][-1][1:] == ("inc-x", "critic", "hybrid", 42.5, 1, True)

    await _downgrade(blank_engine, "0009")
    async with blank_engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        columns = await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("incidents")})
    assert not {"agent_turns", "decision_facts"} & names and "acknowledged_at" not in columns
    await upgrade(blank_engine)  # and back up over the same rows
    assert await _folded(blank_engine) == await _recomputed(blank_engine)


async def test_processes_that_start_together_migrate_one_at_a_time(tmp_path: Path) -> None:
    """API replicas and workers migrate on start; SQLite runs DDL outside of a transaction, so
    without the lock two of them both created the first table and one failed."""
    import asyncio

    from warroom.store.db import make_engine

    engines = [make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}") for _ in range(3)]
    try:
        # without the lock they fail, or wait on each other's locks for good
        await asyncio.wait_for(asyncio.gather(*(upgrade(e) for e in engines)), 120)
        async with engines[0].connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))
                       ).scalar_one()
    finally:
        for e in engines:
            await e.dispose()
    assert version == "0010"
