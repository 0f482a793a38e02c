from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.agents.models import Action, DecisionPackage
from warroom.config import Settings
from warroom.decisions import repository
from warroom.decisions.policy import PolicyVerdict
from warroom.decisions.service import mark_ready, open_decision, transition
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.sensors.models import EvidenceData, EvidenceSnapshot, SensorRun, Series
from warroom.store.tables import EvidenceSnapshotRow, Execution
from warroom.verify.service import judge, verify_decision


def _errors(service: str, value: float) -> Series:
    return Series(metric={"__name__": "service:errors:ratio_rate1m", "namespace": "shop",
                          "service": service}, values=[(1.0, "0.0"), (2.0, str(value))])


def _pod(name: str, app: str, restarts: int) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "shop",
                                        "labels": {"app": app}},
            "status": {"containerStatuses": [{"name": app, "ready": True,
                                              "restartCount": restarts}]}}


PRE = EvidenceData(series=[_errors("checkout", 0.4), _errors("cart", 0.01)],
                   objects=[_pod("checkout-abc12345-xyz12", "checkout", 5),
                            _pod("cart-abc12345-xyz12", "cart", 0)])


def test_cleared_root_cause_and_resolved_alert_is_a_success() -> None:
    post = EvidenceData(series=[_errors("checkout", 0.01), _errors("cart", 0.01)],
                        objects=[_pod("checkout-abc12345-xyz12", "checkout", 5),
                                 _pod("cart-abc12345-xyz12", "cart", 0)])
    verdict, score, details = judge(pre=PRE, post=post, alerts_resolved=True,
                                    target="shop/checkout", observed=True)
    assert (verdict, score) == ("success", 1.0)
    assert details["root_cause_cleared"] and details["regressions"] == []


def test_regression_elsewhere_degrades_the_outcome() -> None:
    post = EvidenceData(series=[_errors("checkout", 0.01), _errors("cart", 0.3)],
                        objects=[_pod("checkout-abc12345-xyz12", "checkout", 5),
                                 _pod("cart-abc12345-xyz12", "cart", 2)])
    verdict, score, details = judge(pre=PRE, post=post, alerts_resolved=False,
                                    target="shop/checkout", observed=True)
    assert verdict == "degraded" and score == 0.5
    assert len(details["regressions"]) == 2


def test_root_cause_still_there_fails() -> None:
    post = EvidenceData(series=[_errors("checkout", 0.45)],
                        objects=[_pod("checkout-abc12345-xyz12", "checkout", 7)])
    verdict, score, _ = judge(pre=PRE, post=post, alerts_resolved=False,
                              target="shop/checkout", observed=True)
    assert verdict == "failed" and score == 0.2


def test_unobservable_post_state_is_a_timeout() -> None:
    verdict, _, _ = judge(pre=PRE, post=None, alerts_resolved=False, target="shop/checkout",
                          observed=False)
    assert verdict == "timeout"


@pytest.fixture
async def executed(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> Any:
    async def make(executor: str) -> str:
        body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
        action = Action(type="scale", target="shop/deployment/checkout", params={"replicas": 6})
        async with sessions() as session, session.begin():
            result = await ingest_alertmanager(
                session, AlertmanagerWebhook.model_validate(body), settings=settings
            )
            incident_id = result.incidents[0].id
            session.add(EvidenceSnapshotRow(id=str(uuid.uuid4()), incident_id=incident_id,
                                            taken_at=datetime.now(UTC),
                                            data=PRE.model_dump(mode="json")))
            decision, _ = await open_decision(session, incident_id=incident_id,
                                              workflow_id=f"wf-{executor}")
            await mark_ready(session, decision,
                             DecisionPackage(status="ready", action=action, fault="traffic_surge"),
                             policy=PolicyVerdict(auto_execute=False, requires_approvals=1,
                                                  executable=True), settings=settings)
            for state in ("approved", "executing", "verifying"):
                await transition(session, decision, state)
            session.add(Execution(
                decision_token=decision.token, idempotency_key=f"{decision.token}:0",
                executor=executor, status="succeeded", action=action.model_dump(),
                pre_state={"objects": [{"kind": "Deployment", "metadata": {
                    "name": "checkout", "namespace": "shop"}, "spec": {"replicas": 3}}]},
                started_at=datetime.now(UTC),
            ))
            return decision.token
    return make


async def _still_failing(request: Any, sensors: Any, *, timeout: float) -> EvidenceSnapshot:
    return EvidenceSnapshot(now=datetime.now(UTC), series=[_errors("checkout", 0.5)],
                            sensors=[SensorRun(sensor="metrics", status="ok")])


async def test_failed_real_execution_proposes_a_rollback_for_a_human(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, executed: Any
) -> None:
    token = await executed("kubernetes")
    result = await verify_decision(sessions, token, settings=settings, sensors=[],
                                   snapshot=_still_failing)
    assert result.verdict == "failed" and result.rollback_token
    async with sessions() as session:
        proposal = await repository.get(session, result.rollback_token)
        decision = await repository.get(session, token)
    assert proposal is not None and decision is not None
    assert proposal.parent_token == token and proposal.status == "ready"
    assert proposal.package is not None
    assert proposal.package.requires_human_approval is True
    assert proposal.package.policy.auto_execute is False
    assert proposal.package.action == Action(
        type="scale", target="shop/deployment/checkout", params={"replicas": 3}
    )
    assert decision.status == "failed"


async def test_shadow_execution_has_nothing_to_roll_back(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, executed: Any
) -> None:
    token = await executed("shadow")
    result = await verify_decision(sessions, token, settings=settings, sensors=[],
                                   snapshot=_still_failing)
    again = await verify_decision(sessions, token, settings=settings, sensors=[],
                                  snapshot=_still_failing)
    assert result.verdict == "failed" and result.rollback_token is None
    assert again.verdict == result.verdict
    async with sessions() as session:
        assert len(list(await repository.verifications(session, token))) == 1
