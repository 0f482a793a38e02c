"""Workflow test kit: a scripted debate, settings for fast runs, the real app with its worker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from warroom.agents.models import Action, Challenge, CriticReport, DecisionPackage
from warroom.api.testing import app_client
from warroom.config import Settings
from warroom.store import audit
from warroom.store.tables import EvidenceSnapshotRow

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures"


def webhook(name: str = "firing") -> dict[str, Any]:
    """Return a webhook body a real Alertmanager sent."""
    return dict(json.loads((FIXTURES / f"alertmanager-webhook-{name}.json").read_text()))


def package(
    action: Action | None = None, *, risk: str = "medium", human: bool = True,
    fault: str = "traffic_surge",
) -> DecisionPackage:
    """Return a ready decision package for the scripted debate."""
    return DecisionPackage(
        status="ready",
        action=action or Action(
            type="scale", target="shop/deployment/checkout", params={"replicas": 4}
        ),
        requires_human_approval=human, risk=risk, fault=fault,  # type: ignore[arg-type]
        confidence=0.8, summary="checkout is saturated: scale it out",
    )


class ScriptedDebate:
    """Stands in for `analyze_incident`: persists a snapshot and a turn, returns the package."""

    def __init__(self, pkg: DecisionPackage | None = None, *, delay: float = 0.0) -> None:
        self.package = pkg or package()
        self.delay = delay
        self.calls: list[str] = []

    async def __call__(
        self, session: AsyncSession, incident_id: str, *, settings: Settings, sensors: list[Any],
        **_: Any,
    ) -> Any:
        self.calls.append(incident_id)
        if self.delay:
            await asyncio.sleep(self.delay)
        session.add(EvidenceSnapshotRow(
            id=str(uuid.uuid4()), incident_id=incident_id, taken_at=datetime.now(UTC),
            data={"objects": [], "series": [], "sensors": [{"sensor": "scripted",
                                                             "status": "ok"}]},
        ))
        await audit.append(
            session, kind="agent.turn", payload={"role": "diagnostician", "vote": "approve"},
            incident_id=incident_id, session_id="debate-1",
        )
        critique = CriticReport(vote="approve", challenges=[
            Challenge(question="breakage", text="scaling may starve the node", severity="warning"),
        ])
        return SimpleNamespace(
            package=self.package, critique=critique, session_id="debate-1", latency_ms=1.0
        )


@pytest.fixture
def wf_settings(settings: Settings) -> Settings:
    """Settings with short warm-ups and polling."""
    update: dict[str, Any] = {
        "verify_warmup_seconds": 0.05, "workflow_poll_seconds": 0.02,
        "execution_poll_seconds": 0.02,
        "approval_timeout_seconds": 30.0, "sensor_timeout_seconds": 1.0,
        "verify_timeout_seconds": 5.0,
    }
    # on PostgreSQL the test's database is its own (conftest), and so are DBOS's tables in it
    return settings.model_copy(update=update)


AppFactory = Callable[..., Any]


@pytest.fixture
def workflow_app(wf_settings: Settings, engine: AsyncEngine) -> Callable[..., Any]:
    """Start the real app with its embedded worker and a scripted debate."""

    @asynccontextmanager
    async def start(
        debate: ScriptedDebate, **update: Any
    ) -> AsyncIterator[httpx.AsyncClient]:
        settings = wf_settings.model_copy(update=update)
        async with app_client(
            settings, engine=engine, runtime={"analyzer": debate}
        ) as client:
            yield client

    return start


async def wait_for(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, what: str = "condition"
) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def post_alert(client: httpx.AsyncClient, name: str = "firing") -> str:
    """Post a fixture webhook and return the incident id it touched."""
    response = await client.post("/api/v1/alerts/alertmanager", json=webhook(name))
    assert response.status_code == 202, response.text
    return str(response.json()["incidents"][0]["id"])


async def decision_of(client: httpx.AsyncClient, incident_id: str, status: str | None = None
                      ) -> dict[str, Any] | None:
    """Return the incident's decision (from the incident detail), optionally in `status`."""
    body = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    decision = body.get("decision")
    if decision is None or (status is not None and decision["status"] != status):
        return None
    return dict(decision)
