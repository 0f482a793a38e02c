from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.agents.models import Action, DecisionPackage
from warroom.api.testing import app_client
from warroom.config import Settings
from warroom.decisions.policy import PolicyVerdict
from warroom.decisions.service import mark_ready, open_decision
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.learn.service import ewma, learn_outcome, playbook_trust
from warroom.store.tables import ChallengeOutcome


def test_ewma_moves_toward_the_outcome_and_failures_weigh_more(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, _env_file=None,  # type: ignore[call-arg]
                        trust_alpha=0.2, trust_failure_weight=2.0)
    assert ewma(0.5, 1.0, failed=False, settings=settings) == pytest.approx(0.6)
    assert ewma(0.5, 0.0, failed=True, settings=settings) == pytest.approx(0.3)
    gained = ewma(0.5, 1.0, failed=False, settings=settings) - 0.5
    lost = 0.5 - ewma(0.5, 0.0, failed=True, settings=settings)
    assert lost == pytest.approx(2 * gained)


@pytest.fixture
async def decision(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> Any:
    body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
    async with sessions() as session, session.begin():
        result = await ingest_alertmanager(
            session, AlertmanagerWebhook.model_validate(body), settings=settings
        )
        decision, _ = await open_decision(session, incident_id=result.incidents[0].id,
                                          workflow_id="wf-learn")
        await mark_ready(
            session, decision,
            DecisionPackage(status="ready", fault="memory_leak",
                            action=Action(type="rollout_restart",
                                          target="shop/deployment/checkout")),
            policy=PolicyVerdict(auto_execute=False, requires_approvals=1, executable=True),
            settings=settings,
            extras={"challenges": [
                {"question": "breakage", "text": "restart drops sessions", "severity": "warning"},
                {"question": "alternative", "text": "could be the database", "severity": "info"},
            ]},
        )
        return decision


async def test_outcomes_update_trust_and_judge_the_critic(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, decision: Any
) -> None:
    async with sessions() as session, session.begin():
        update = await learn_outcome(
            session, decision, verdict="success", score=1.0,
            details={"root_cause_cleared": True, "regressions": []}, settings=settings,
        )
    assert update is not None and update["trust_before"] == 0.5
    assert update["trust_after"] == pytest.approx(0.5 + settings.trust_alpha * 0.5)
    async with sessions() as session, session.begin():
        await learn_outcome(
            session, decision, verdict="failed", score=0.2,
            details={"root_cause_cleared": False, "regressions": ["shop/cart: 2 new restarts"]},
            settings=settings,
        )
        trust = await playbook_trust(session)
        outcomes = (await session.execute(
            select(ChallengeOutcome).order_by(ChallengeOutcome.id)
        )).scalars().all()
    assert trust["memory_leak/rollout_restart"] < update["trust_after"]
    assert [(o.question, o.proved_right) for o in outcomes] == [
        ("breakage", False), ("alternative", False),  # after the success
        ("breakage", True), ("alternative", True),  # after the failure
    ]


async def test_playbooks_endpoint_lists_trust(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, engine: AsyncEngine,
    decision: Any,
) -> None:
    async with sessions() as session, session.begin():
        await learn_outcome(session, decision, verdict="success", score=0.9,
                            details={"root_cause_cleared": True}, settings=settings)
    async with app_client(settings, engine=engine) as client:
        body = (await client.get("/api/v1/playbooks")).json()
    [playbook] = body["playbooks"]
    assert playbook["key"] == "memory_leak/rollout_restart"
    assert playbook["successes"] == 1 and playbook["failures"] == 0
    assert 0.5 < playbook["trust"] < 1
