"""`/metrics` through the real app: valid exposition, and the counters move with an incident."""

from __future__ import annotations

import subprocess
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from wfkit import ScriptedDebate, decision_of, post_alert, wait_for

from warroom.api.app import container_of
from warroom.api.testing import app_client
from warroom.config import Settings

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Parse the exposition with prometheus_client's own parser: sample -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    """Return one sample's value, 0 when it is not exported (yet)."""
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def total(found: Samples, name: str) -> float:
    """Sum a sample over all its label values."""
    return sum(v for (n, _), v in found.items() if n == name)


async def scrape(client: httpx.AsyncClient) -> tuple[str, Samples]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return response.text, samples(response.text)


async def _closed(client: httpx.AsyncClient, incident_id: str) -> bool:
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]
    return any(e["kind"] == "workflow.closed" for e in timeline)


async def test_one_incident_moves_the_counters(workflow_app: Any, promtool: str) -> None:
    async with workflow_app(ScriptedDebate()) as client:
        _, before = await scrape(client)
        incident_id = await post_alert(client)
        rejected = await client.post("/api/v1/alerts/alertmanager", content=b"{not json")
        assert rejected.status_code == 400
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        _, waiting = await scrape(client)
        response = await client.post(f"/api/v1/decisions/{decision['token']}/approve",
                                     json={"approver": "alice"})
        assert response.status_code == 200, response.text
        await post_alert(client, "resolved")
        await wait_for(lambda: _closed(client, incident_id), what="the workflow closed")
        text, after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("warroom_webhooks_total", source="alertmanager", code="202") == 2
    assert moved("warroom_webhooks_total", source="alertmanager", code="400") == 1
    assert moved("warroom_alerts_received_total", source="alertmanager", status="firing") >= 1
    assert moved("warroom_alerts_received_total", source="alertmanager", status="resolved") >= 1
    assert moved("warroom_ingest_ack_seconds_count", source="alertmanager") == 2
    assert moved("warroom_ingest_batch_webhooks_count") == 2
    assert moved("warroom_debate_seconds_count", status="ready") == 1
    for step in ("warroom.decide", "warroom.execute", "warroom.verify", "warroom.close"):
        assert moved("warroom_workflow_step_seconds_count", step=step, result="ok") >= 1, step
    assert moved("warroom_decision_transitions_total", to="ready", by="warroom") == 1
    assert moved("warroom_decision_transitions_total", to="approved", by="human") == 1
    assert moved("warroom_executions_total", executor="shadow", result="succeeded") == 1
    assert total(after, "warroom_verification_score_count") - total(
        before, "warroom_verification_score_count") == 1
    assert total(after, "warroom_workflows_closed_total") - total(
        before, "warroom_workflows_closed_total") == 1
    # the database gauges, read at scrape time: one incident waited for approval, then closed
    assert value(waiting, "warroom_workflow_backlog", stage="ready") == 1
    assert value(waiting, "warroom_incidents_open", priority="P1") + value(
        waiting, "warroom_incidents_open", priority="P2") >= 1
    assert value(after, "warroom_workflow_backlog", stage="ready") == 0
    assert value(after, "warroom_metrics_database_up") == 1
    assert value(after, "warroom_audit_chain_length") > value(before,
                                                               "warroom_audit_chain_length")
    # Prometheus' own checker accepts the exposition (lint problems are reported, not errors)
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "error" not in check.stderr.lower(), check.stderr


async def test_metrics_answer_when_the_database_is_gone(settings: Settings,
                                                        engine: AsyncEngine) -> None:
    apps: list[FastAPI] = []
    async with app_client(settings, engine=engine, hooks=False, configure=apps.append) as client:

        def unreachable() -> Any:
            raise OSError("connection refused")

        real = container_of(apps[0]).sessions
        container_of(apps[0]).sessions = unreachable
        try:
            _, found = await scrape(client)
        finally:
            container_of(apps[0]).sessions = real
    assert value(found, "warroom_metrics_database_up") == 0
    assert value(found, "warroom_database_errors_total", where="metrics") >= 1
    assert not any(name == "warroom_incidents_open" for name, _ in found)
