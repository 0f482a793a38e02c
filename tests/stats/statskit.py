"""Stats test kit: incidents driven through the real app and workflow to known outcomes."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from wfkit import ScriptedDebate, decision_of, package, wait_for, webhook

from warroom.agents.models import Action
from warroom.store.db import make_sessionmaker
from warroom.store.tables import Playbook


@pytest.fixture
def stats_app(workflow_app: Callable[..., Any]) -> Callable[..., Any]:
    """Start the real app with its worker; every stats test talks to the API through it."""

    @asynccontextmanager
    async def start(debate: ScriptedDebate, **update: Any) -> AsyncIterator[httpx.AsyncClient]:
        async with workflow_app(debate, **update) as client:
            # the one place an API token goes once the endpoints ask for one
            yield client

    return start


def alert(service: str, status: str = "firing", *, namespace: str = "shop",
          started: datetime | None = None) -> dict[str, Any]:
    """Return the real Alertmanager fixture, moved to one service and start time."""
    body = copy.deepcopy(webhook("firing"))
    item = body["alerts"][0]
    item["labels"].update(service=service, job=service, namespace=namespace,
                          instance=f"{service}.{namespace}.svc:8080")
    item["fingerprint"] = f"fp-{namespace}-{service}"
    item["status"] = status
    at = (started or datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    item["startsAt"] = at.replace("+00:00", "Z")
    if status == "resolved":
        item["endsAt"] = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    body["status"] = status
    body["commonLabels"] = dict(item["labels"])
    body["groupKey"] = f'{{}}:{{service="{service}"}}'
    return body


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """Post a webhook and return the incident it touched."""
    response = await client.post("/api/v1/alerts/alertmanager", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["incidents"][0]["id"])


async def _closed(client: httpx.AsyncClient, incident_id: str) -> bool:
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]
    return any(e["kind"] == "workflow.closed" for e in timeline)


async def _status(client: httpx.AsyncClient, token: str, *states: str) -> dict[str, Any] | None:
    view = (await client.get(f"/api/v1/decisions/{token}")).json()
    return dict(view) if view["status"] in states else None


@dataclass
class Driven:
    """The incidents `drive` produced: service -> incident id."""

    incidents: dict[str, str]


async def drive(client: httpx.AsyncClient, debate: ScriptedDebate) -> Driven:
    """Drive three incidents to three outcomes: approved, rejected, auto-executed.

    checkout is approved by a human, executed, verified and resolved; cart is rejected and
    resolved; search runs on its own under a trusted playbook (start the app with
    `auto_execute_namespaces=["shop"]` after `trust_playbook`) and stays open.
    """
    found: dict[str, str] = {}
    debate.package = package()
    found["checkout"] = await post(client, alert("checkout", started=_ago(120)))
    ready = await wait_for(lambda: decision_of(client, found["checkout"], "ready"),
                           what="checkout's ready decision")
    answer = await client.post(f"/api/v1/decisions/{ready['token']}/approve",
                               json={"approver": "alice"})
    assert answer.status_code == 200, answer.text
    await wait_for(lambda: _status(client, ready["token"], "executing", "verifying",
                                   "completed"), what="checkout's execution")
    await post(client, alert("checkout", "resolved", started=_ago(120)))
    await wait_for(lambda: _closed(client, found["checkout"]), what="checkout's closing")

    found["cart"] = await post(client, alert("cart", started=_ago(60)))
    ready = await wait_for(lambda: decision_of(client, found["cart"], "ready"),
                           what="cart's ready decision")
    answer = await client.post(f"/api/v1/decisions/{ready['token']}/reject",
                               json={"approver": "bob", "comment": "not now"})
    assert answer.status_code == 200, answer.text
    await post(client, alert("cart", "resolved", started=_ago(60)))
    await wait_for(lambda: _closed(client, found["cart"]), what="cart's closing")

    debate.package = package(
        Action(type="scale", target="shop/deployment/search", params={"replicas": 3}),
        risk="low", human=False, fault="memory_leak")
    found["search"] = await post(client, alert("search", started=_ago(10)))
    await wait_for(lambda: _closed(client, found["search"]), what="search's closing")
    return Driven(found)


def _ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)


async def trust_playbook(engine: AsyncEngine, fault: str = "memory_leak",
                         action_type: str = "scale") -> None:
    """Store a playbook trusted enough to let the policy auto-execute it."""
    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(Playbook(fault=fault, action_type=action_type, trust=0.95, successes=9,
                             failures=0, updated_at=datetime.now(UTC)))
