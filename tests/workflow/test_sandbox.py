"""The whole loop on the sandbox cluster: its alerts, the real debate, the Kubernetes executor.

warroom serves over real HTTP (the sandbox posts its webhooks there), shadow mode is off, the
sensors read the sandbox's Kubernetes and Prometheus APIs, and a human approves over HTTP.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from warroom.access import service as access
from warroom.access.models import Role
from warroom.api.app import container_of, create_app
from warroom.config import Settings
from warroom.sandbox.embed import install, prepare
from warroom.store.db import transaction

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _first_executable(client: httpx.AsyncClient) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        for item in (await client.get("/api/v1/incidents")).json()["items"]:
            detail = (await client.get(f"/api/v1/incidents/{item['id']}")).json()
            decision = detail.get("decision") or {}
            action = decision.get("action") or {}
            if decision.get("status") == "ready" and action.get("type") not in (
                None, "escalate", "no_action"
            ):
                return dict(decision)
        await asyncio.sleep(0.5)
    raise AssertionError("no executable decision on the sandbox within 120 s")


async def _settled(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while loop.time() < deadline:
        view = dict((await client.get(f"/api/v1/decisions/{token}")).json())
        if view["status"] in ("completed", "failed") and view["verifications"]:
            return view
        await asyncio.sleep(0.5)
    raise AssertionError(f"decision {token} did not settle")


async def test_approved_decision_acts_on_the_sandbox_and_is_verified(tmp_path: Path) -> None:
    port = _free_port()
    settings = Settings(  # type: ignore[call-arg]
        home=tmp_path / "home", _env_file=None, port=port, verify_warmup_seconds=5.0,
        sandbox_tick_interval_seconds=0.5,
    )
    settings, sandbox = prepare(settings)
    app = create_app(settings)
    install(app, sandbox)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.05)
        async with transaction(container_of(app).sessions) as session:
            alice = (await access.create_token(session, name="alice", role=Role.admin, days=1,
                                               actor="test")).token
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     headers={"Authorization": f"Bearer {alice}"}) as client:
            await client.post("/api/v1/sandbox/faults",
                              json={"fault": "traffic_surge", "service": "checkout"})
            decision = await _first_executable(client)
            token = decision["token"]
            approved = await client.post(f"/api/v1/decisions/{token}/approve",
                                         json={"approver": "alice", "comment": "sandbox"})
            assert approved.status_code == 200, approved.text
            view = await _settled(client, token)
            key = f"{view['fault']}/{view['action_type']}"
            # the learn step runs just after the decision completes: give it a moment
            for _ in range(100):
                playbooks = (await client.get("/api/v1/playbooks")).json()["playbooks"]
                if any(p["key"] == key for p in playbooks):
                    break
                await asyncio.sleep(0.1)
    finally:
        server.should_exit = True
        await task
    [execution, *more] = view["executions"]
    assert execution["executor"] == "kubernetes" and execution["status"] == "succeeded"
    assert execution["request"]["path"].startswith("/apis/") and execution["pre_state"]
    verification = view["verifications"][0]
    assert verification["verdict"] in ("success", "degraded", "failed", "timeout")
    assert verification["details"]["executor"] == "kubernetes"
    assert 0.0 <= verification["score"] <= 1.0
    assert any(p["key"] == key for p in playbooks), (key, playbooks, verification)
