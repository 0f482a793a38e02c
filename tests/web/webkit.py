"""Web test kit: the real app (no workflow worker), a posted fixture, a seeded debate."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.agents.models import Action, DecisionPackage, FollowUp, Hypothesis
from warroom.api.app import container_of
from warroom.api.testing import AppClient, app_client
from warroom.config import Settings
from warroom.decisions import service
from warroom.decisions.policy import PolicyVerdict
from warroom.store import audit

XSS = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


@dataclass
class Web:
    client: AppClient
    app: FastAPI

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return container_of(self.app).sessions


@asynccontextmanager
async def web_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Web]:
    """Start the real app on the test's database, without the workflow worker."""
    holder: list[FastAPI] = []
    async with app_client(settings, engine=engine, hooks=False,
                          configure=holder.append) as client:
        yield Web(client, holder[0])


def firing(fixtures_dir: Path, *, summary: str | None = None) -> dict[str, Any]:
    """Return the real Alertmanager fixture, optionally with a hostile summary annotation."""
    body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
    if summary is not None:
        body["alerts"][0]["annotations"]["summary"] = summary
    return dict(body)


async def post_incident(web: Web, body: dict[str, Any]) -> str:
    """Post a webhook and return the incident id it opened."""
    response = await web.client.post("/api/v1/alerts/alertmanager", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["incidents"][0]["id"])


def package(*, risk: str = "critical", evidence: str = "error ratio 90% on checkout"
            ) -> DecisionPackage:
    """Return a ready package for a rollback of checkout, citing `evidence`."""
    return DecisionPackage(
        status="ready", risk=risk,  # type: ignore[arg-type]
        action=Action(type="rollout_undo", target="shop/deployment/checkout",
                      params={"to_revision": 6}),
        requires_human_approval=True, blast_radius=23, confidence=0.87, fault="bad_deploy",
        summary="Diagnosis: bad_deploy on shop/checkout. Plan: rollout_undo.", team="team-shop",
        hypotheses=[Hypothesis(namespace="shop", service="checkout", fault="bad_deploy",
                               confidence=0.87, evidence=[evidence])],
        followups=[FollowUp(title="Gate rollouts on the error ratio", kind="other",
                            change="kubectl -n shop annotate deployment/checkout gate=errors")],
    )


async def seed_decision(web: Web, incident_id: str, pkg: DecisionPackage) -> str:
    """Record a debate (turns, package) and open a ready decision for it; return its token."""
    turns = [
        ("diagnostician", "approve", {"hypotheses": [h.model_dump(mode="json")
                                                     for h in pkg.hypotheses]}),
        ("solver", "approve", {"candidates": [{
            "action": pkg.action.model_dump(mode="json") if pkg.action else None,
            "risk": pkg.risk, "blast_radius": pkg.blast_radius, "rationale": "previous revision",
            "kubectl": "kubectl -n shop rollout undo deployment/checkout --to-revision=6"}]}),
        ("reviewer", "approve", {"vote": "approve", "notes": ["blast radius 23"]}),
        ("critic", "request_revision", {"vote": "request_revision", "challenges": [
            {"question": "breakage", "text": "the old revision may lack a schema migration",
             "severity": "warning"}]}),
        ("coordinator", "approve", {}),
    ]
    async with web.sessions() as session, session.begin():
        for role, vote, output in turns:
            await audit.append(session, kind="agent.turn", incident_id=incident_id,
                               session_id="s-1", payload={"role": role, "vote": vote,
                                                          "output": output, "latency_ms": 3.0})
        await audit.append(session, kind="debate.package", incident_id=incident_id,
                           session_id="s-1", payload={"package": pkg.model_dump(mode="json")})
        decision, _ = await service.open_decision(session, incident_id=incident_id,
                                                  workflow_id=f"wf-{incident_id}")
        policy = PolicyVerdict(auto_execute=False, executable=True,
                               requires_approvals=2 if pkg.risk == "critical" else 1,
                               reasons=[f"risk is {pkg.risk}, only low risk auto-executes"])
        await service.mark_ready(session, decision, pkg, policy=policy,
                                 settings=container_of(web.app).settings)
        return decision.token
