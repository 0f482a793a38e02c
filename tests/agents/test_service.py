from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.agents.events import EventBus
from warroom.agents.models import DiagnosisReport, Hypothesis
from warroom.agents.orchestrator import Backends
from warroom.agents.ports import DebateContext
from warroom.agents.service import analyze_incident, incident_detail
from warroom.config import Settings
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.learn.service import playbook_trust
from warroom.llm.debate import LanguageModels
from warroom.sensors.models import EvidenceData, SensorRequest, SensorResult, SensorRun
from warroom.store.audit import list_events, verify_chain
from warroom.store.tables import AuditEvent, EvidenceSnapshotRow, Playbook

NOW = datetime(2026, 11, 22, 4, 50, tzinfo=UTC)
Sessions = async_sessionmaker[AsyncSession]

# what the composition root hands the debate: learn's trust, llm's models
PORTS: dict[str, Any] = {"trust": playbook_trust, "models": LanguageModels()}


class KubeSensor:
    name = "kubernetes"

    async def collect(self, request: SensorRequest) -> SensorResult:
        deployment = {"kind": "Deployment", "metadata": {
            "namespace": "shop", "name": "checkout",
            "annotations": {"deployment.kubernetes.io/revision": "2"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "checkout", "env": [{"name": "DB_PASSWORD", "value": "hunter2!"}]}]}}}}
        rs = [{"kind": "ReplicaSet", "metadata": {
            "namespace": "shop", "name": f"checkout-{h}",
            "ownerReferences": [{"kind": "Deployment", "name": "checkout"}],
            "annotations": {"deployment.kubernetes.io/revision": str(r)}}}
            for h, r in (("aaaaaa1", 1), ("bbbbbb2", 2))]
        return SensorResult(run=SensorRun(sensor=self.name, status="ok", items=3),
                            data=EvidenceData(objects=[deployment, *rs]))


class HangingSensor:
    name = "logs"

    async def collect(self, request: SensorRequest) -> SensorResult:
        await asyncio.Event().wait()
        raise AssertionError


class BadDeploy:
    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        return DiagnosisReport(hypotheses=[Hypothesis(
            namespace="shop", service="checkout", fault="bad_deploy", confidence=0.9,
            evidence=["errors began with revision 2"])])


def backends() -> Backends:
    from warroom.agents.critic import RuleCritic
    from warroom.agents.reviewer import RuleReviewer
    from warroom.agents.solver import RuleSolver

    return Backends(diagnostician=BadDeploy(), solver=RuleSolver(), reviewer=RuleReviewer(),
                    critic=RuleCritic())


async def open_incident(session: AsyncSession, settings: Settings, fixtures_dir: Path) -> str:
    body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
    result = await ingest_alertmanager(session, AlertmanagerWebhook.model_validate(body),
                                       settings=settings, now=NOW)
    await session.commit()
    return result.incidents[0].id


async def test_the_debate_hands_on_the_playbook_trust_it_read_for_the_policy(
        sessions: Sessions, settings: Settings, fixtures_dir: Path) -> None:
    settings = settings.model_copy(update={"sensor_timeout_seconds": 0.1})
    async with sessions() as session:
        incident_id = await open_incident(session, settings, fixtures_dir)
        session.add(Playbook(fault="bad_deploy", action_type="rollout_undo", trust=0.8,
                             successes=4, failures=1, updated_at=NOW))
        await session.flush()
        result = await analyze_incident(session, incident_id, settings=settings, now=NOW,
                                        sensors=[KubeSensor()], backends=backends(),
                                        **PORTS)
    # read once per round: the workflow judges the package by the figures the debate saw
    assert result.playbook_trust == {"bad_deploy/rollout_undo": 0.8}
    assert "playbook_trust" not in result.model_dump()


async def test_analysis_senses_debates_persists_and_audits(
        sessions: Sessions, settings: Settings, fixtures_dir: Path) -> None:
    settings = settings.model_copy(update={"sensor_timeout_seconds": 0.1})
    bus = EventBus()
    async with sessions() as session:
        incident_id = await open_incident(session, settings, fixtures_dir)
        async with bus.subscribe() as feed:
            result = await analyze_incident(
                session, incident_id, **PORTS, settings=settings, now=NOW,
                sensors=[KubeSensor(), HangingSensor()], backends=backends(), bus=bus)
            await session.commit()
            topics = [feed.get_nowait()[0] for _ in range(feed.qsize())]
    assert result.package.status == "ready"
    assert result.package.action is not None
    assert (result.package.action.type, result.package.action.params) == (
        "rollout_undo", {"to_revision": 1})
    runs = {r.sensor: r.status for r in result.snapshot.sensors}
    assert runs == {"kubernetes": "ok", "logs": "timeout"}
    assert [a.labels["alertname"] for a in result.snapshot.alerts] == ["HighErrorRatio"]
    assert topics.count("agent.turn") == 5 and topics[-1] == "debate.package"
    assert "checkout" in result.summary, "the summary chat cards show (the rule template)"

    async with sessions() as session:
        row = (await session.scalars(select(EvidenceSnapshotRow))).one()
        assert row.incident_id == incident_id and row.id == result.snapshot_id
        assert "hunter2!" not in json.dumps(row.data)  # stored sanitized
        events = await list_events(session, incident_id=incident_id, kind="agent.turn")
        roles = [e.payload["role"] for e in events]
        # the Reviewer and the Critic run concurrently: their order is not fixed
        assert roles[:2] == ["diagnostician", "solver"] and roles[4] == "coordinator"
        assert set(roles[2:4]) == {"reviewer", "critic"}
        for event in events:
            assert event.session_id == result.session_id
            payload = event.payload
            assert set(payload) >= {"session_id", "incident_id", "role", "input_hash", "output",
                                    "latency_ms", "vote", "degraded"}
            assert len(payload["input_hash"]) == 64
        assert (await verify_chain(session)).ok
        detail = await incident_detail(session, incident_id, models=PORTS["models"])
        assert detail["evidence"]["counts"]["objects"] == 3
        assert len(detail["debate"]["turns"]) == 5
        assert detail["debate"]["package"]["action"]["type"] == "rollout_undo"


async def test_audit_rows_of_turns_cannot_be_changed(
        sessions: Sessions, settings: Settings, fixtures_dir: Path) -> None:
    async with sessions() as session:
        incident_id = await open_incident(session, settings, fixtures_dir)
        await analyze_incident(session, incident_id, settings=settings, now=NOW,
                               sensors=[KubeSensor()], backends=backends(), **PORTS)
        await session.commit()
    for statement in ("UPDATE audit_events SET payload = '{}' WHERE kind = 'agent.turn'",
                      "DELETE FROM audit_events WHERE kind = 'agent.turn'"):
        async with sessions() as session:
            with pytest.raises(DBAPIError):
                await session.execute(text(statement))
                await session.commit()
    async with sessions() as session:
        count = len((await session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "agent.turn"))).all())
        assert count == 5


async def test_unknown_incident_and_broken_backends_never_raise(
        sessions: Sessions, settings: Settings, fixtures_dir: Path) -> None:
    async with sessions() as session:
        missing = await analyze_incident(session, "no-such-incident", settings=settings,
                                         sensors=[], now=NOW, **PORTS)
        assert missing.package.status == "failed"
        assert "not found" in (missing.package.blocked_reason or "")
        incident_id = await open_incident(session, settings, fixtures_dir)
        broken = Backends(diagnostician=None, solver=None, reviewer=None,  # type: ignore[arg-type]
                          critic=None)
        result = await analyze_incident(session, incident_id, settings=settings,
                                        sensors=[KubeSensor()], backends=broken, now=NOW,
                                        **PORTS)
        assert result.package.requires_human_approval
        assert result.package.status == "blocked"
        assert result.package.outcome == "all_degraded_human"
        assert all(t.degraded for t in result.turns[:4])


async def test_a_lost_database_is_raised_not_written_up_as_a_failed_analysis(
        sessions: Sessions, settings: Settings, fixtures_dir: Path) -> None:
    # the connection drops under the debate's first read: its session is finished, so a
    # "failed" package written in it would be lost, and the workflow step must run it again
    async with sessions() as session:
        incident_id = await open_incident(session, settings, fixtures_dir)
        await session.commit()

        async def lost(*args: Any, **kwargs: Any) -> Any:
            raise OperationalError("SELECT incidents", {}, ConnectionError("connection lost"))

        session.execute = lost  # type: ignore[method-assign]
        with pytest.raises(OperationalError):
            await analyze_incident(session, incident_id, settings=settings, sensors=[],
                                   now=NOW, backends=backends(), **PORTS)


async def test_incident_api_shows_evidence_turns_and_package(
        engine: AsyncEngine, sessions: Sessions, settings: Settings,
        fixtures_dir: Path) -> None:
    from warroom.api.testing import app_client

    async with sessions() as session:
        incident_id = await open_incident(session, settings, fixtures_dir)
        result = await analyze_incident(session, incident_id, settings=settings, now=NOW,
                                        sensors=[KubeSensor()], backends=backends(),
                                        **PORTS)
        await session.commit()
    quiet = settings.model_copy(update={"embedded_worker": False})
    async with app_client(quiet, engine=engine) as client:
        response = await client.get(f"/api/v1/incidents/{incident_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["evidence"]["snapshot_id"] == result.snapshot_id
    assert [s["sensor"] for s in body["evidence"]["sensors"]] == ["kubernetes"]
    assert body["debate"]["session_id"] == result.session_id
    assert len(body["debate"]["turns"]) == 5
    assert body["debate"]["package"]["action"]["type"] == "rollout_undo"
