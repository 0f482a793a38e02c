from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access.models import Identity, Role
from warroom.agents.models import DecisionPackage
from warroom.config import Settings
from warroom.decisions import service
from warroom.decisions.models import (
    ApprovalForbidden,
    ApprovalRefused,
    ApprovalRequest,
    InvalidTransition,
)
from warroom.decisions.policy import PolicyVerdict
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.store import audit


async def _incident(sessions: async_sessionmaker[AsyncSession], settings: Settings,
                    fixtures_dir: Path) -> str:
    body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
    async with sessions() as session, session.begin():
        result = await ingest_alertmanager(
            session, AlertmanagerWebhook.model_validate(body), settings=settings
        )
    return result.incidents[0].id


async def _ready(sessions: async_sessionmaker[AsyncSession], settings: Settings,
                 incident_id: str, approvals: int = 1) -> str:
    async with sessions() as session, session.begin():
        decision, created = await service.open_decision(
            session, incident_id=incident_id, workflow_id="wf-1"
        )
        assert created
        await service.mark_ready(
            session, decision, DecisionPackage(status="ready", risk="critical"),
            policy=PolicyVerdict(auto_execute=False, requires_approvals=approvals,
                                 executable=True),
            settings=settings,
        )
        return decision.token


async def test_open_decision_returns_the_one_in_flight(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> None:
    incident_id = await _incident(sessions, settings, fixtures_dir)
    token = await _ready(sessions, settings, incident_id)
    async with sessions() as session, session.begin():
        same, created = await service.open_decision(
            session, incident_id=incident_id, workflow_id="wf-other"
        )
    assert same.token == token and not created


async def test_state_machine_refuses_illegal_moves(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> None:
    incident_id = await _incident(sessions, settings, fixtures_dir)
    token = await _ready(sessions, settings, incident_id)
    async with sessions() as session, session.begin():
        view = await service.get_view(session, token)
        decision = await service.repository.get(session, token)
        assert decision is not None and view.status == "ready"
        with pytest.raises(InvalidTransition, match="from 'ready' to 'executing'"):
            await service.transition(session, decision, "executing")


def _as(name: str, role: Role = Role.approver) -> Identity:
    return Identity(name=name, role=role)


async def test_a_viewer_cannot_answer_a_decision(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> None:
    incident_id = await _incident(sessions, settings, fixtures_dir)
    token = await _ready(sessions, settings, incident_id)
    async with sessions() as session, session.begin():
        with pytest.raises(ApprovalForbidden, match="needs the approver role"):
            await service.record_approval(
                session, token, ApprovalRequest(), "approve", approver=_as("vic", Role.viewer)
            )
        assert await service.repository.approvals(session, token) == []


async def test_two_distinct_approvers_are_needed_and_recorded_with_who(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> None:
    incident_id = await _incident(sessions, settings, fixtures_dir)
    token = await _ready(sessions, settings, incident_id, approvals=2)
    async with sessions() as session, session.begin():
        decision, _ = await service.record_approval(
            session, token, ApprovalRequest(comment="ok"), "approve", approver=_as("alice")
        )
        assert await service.approval_state(session, decision) == "pending"
    async with sessions() as session, session.begin():
        with pytest.raises(ApprovalRefused, match="already answered"):
            await service.record_approval(
                session, token, ApprovalRequest(), "approve", approver=_as("alice")
            )
    async with sessions() as session, session.begin():
        decision, _ = await service.record_approval(
            session, token, ApprovalRequest(via="cli"), "approve", approver=_as("bob")
        )
        assert await service.approval_state(session, decision) == "approved"
        events = await audit.list_events(session, decision_token=token, kind="decision.approval")
    assert [(e.actor, e.payload["via"]) for e in events] == [("alice", "api"), ("bob", "cli")]


async def test_one_rejection_rejects_and_a_settled_decision_takes_no_answers(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> None:
    incident_id = await _incident(sessions, settings, fixtures_dir)
    token = await _ready(sessions, settings, incident_id, approvals=2)
    async with sessions() as session, session.begin():
        decision, _ = await service.record_approval(
            session, token, ApprovalRequest(), "reject", approver=_as("carol")
        )
        assert await service.approval_state(session, decision) == "rejected"
        await service.transition(session, decision, "rejected", actor="carol")
    async with sessions() as session, session.begin():
        with pytest.raises(ApprovalRefused, match="is rejected"):
            await service.record_approval(
                session, token, ApprovalRequest(), "approve", approver=_as("dan")
            )
