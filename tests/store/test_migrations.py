from __future__ import annotations

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
    from datetime import UTC, datetime, timedelta

    from warroom.bench.stats_seed import seed
    from warroom.store.tables import Decision, Execution, Incident, Signal

    end = datetime(2026, 12, 1, tzinfo=UTC)
    await upgrade(blank_engine, "0008")
    await seed(blank_engine, incidents=40, days=2, end=end - timedelta(days=2), seed=3)

    await upgrade(blank_engine)

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
