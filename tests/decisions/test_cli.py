"""`warroom approve|reject` against a real HTTP server (uvicorn) serving the real app."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from warroom.access import service as access
from warroom.access.models import Role
from warroom.agents.models import Action, DecisionPackage
from warroom.api.app import create_app
from warroom.cli import app as cli
from warroom.config import Settings, get_settings
from warroom.decisions import repository
from warroom.decisions.policy import PolicyVerdict
from warroom.decisions.service import mark_ready, open_decision
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.store import audit
from warroom.store.db import transaction


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(settings: Settings, engine: AsyncEngine) -> AsyncIterator[str]:
    port = _free_port()
    app = create_app(settings.model_copy(update={"embedded_worker": False}), engine=engine)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    await task


async def _ready(sessions: async_sessionmaker[AsyncSession], settings: Settings,
                 fixtures_dir: Path) -> str:
    body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
    async with sessions() as session, session.begin():
        result = await ingest_alertmanager(
            session, AlertmanagerWebhook.model_validate(body), settings=settings
        )
        decision, _ = await open_decision(session, incident_id=result.incidents[0].id,
                                          workflow_id="wf-cli")
        await mark_ready(
            session, decision,
            DecisionPackage(status="ready", action=Action(
                type="scale", target="shop/deployment/checkout", params={"replicas": 3})),
            policy=PolicyVerdict(auto_execute=False, requires_approvals=2, executable=True),
            settings=settings,
        )
        return decision.token


async def _token(sessions: async_sessionmaker[AsyncSession], name: str) -> str:
    async with transaction(sessions) as session:
        return (await access.create_token(session, name=name, role=Role.approver, days=1,
                                          actor="test")).token


def _as(token: str, args: list[str]) -> object:
    """Run the CLI with WARROOM_TOKEN set (the settings are read afresh for it)."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, args, env={"WARROOM_TOKEN": token})
    finally:
        get_settings.cache_clear()


async def test_approve_and_reject_from_the_command_line(
    server: str, sessions: async_sessionmaker[AsyncSession], settings: Settings,
    fixtures_dir: Path,
) -> None:
    token = await _ready(sessions, settings, fixtures_dir)
    alice, bob = await _token(sessions, "alice"), await _token(sessions, "bob")
    anonymous: Any = await asyncio.to_thread(_as, "", ["approve", token, "--url", server])
    assert anonymous.exit_code == 1 and "401" in anonymous.output
    assert "WARROOM_TOKEN" in anonymous.output
    ok: Any = await asyncio.to_thread(
        _as, alice, ["approve", token, "-m", "looks right", "--url", server])
    assert ok.exit_code == 0, ok.output
    assert "alice (approve)" in ok.output
    twice: Any = await asyncio.to_thread(_as, alice, ["approve", token, "--url", server])
    assert twice.exit_code == 1 and "already answered" in twice.output
    no: Any = await asyncio.to_thread(
        _as, bob, ["reject", token, "-m", "not now", "--url", server])
    assert no.exit_code == 0, no.output
    missing: Any = await asyncio.to_thread(_as, bob, ["approve", "d_nope", "--url", server])
    assert missing.exit_code == 1 and "404" in missing.output
    async with sessions() as session:
        answers = [(a.approver, a.verdict, a.via, a.comment)
                   for a in await repository.approvals(session, token)]
        events = await audit.list_events(session, decision_token=token)
    assert answers == [("alice", "approve", "cli", "looks right"),
                       ("bob", "reject", "cli", "not now")]
    assert [(e.kind, e.actor) for e in events if e.kind.startswith("decision.")][-2:] == [
        ("decision.approval", "alice"), ("decision.rejection", "bob")]
