"""A cascade on the sandbox is one incident, debated once, rooted at the failing database."""

from __future__ import annotations

from typing import Any

from wfkit import ScriptedDebate, decision_of, wait_for

from warroom.sandbox.embed import service_map
from warroom.sandbox.sim import Sandbox


def database_fault_webhooks() -> list[dict[str, Any]]:
    """Return the webhooks the sandbox sends while its orders database saturates."""
    sandbox = Sandbox()
    sandbox.inject("database_saturation", service="orders-db", namespace="data")
    sent: list[dict[str, Any]] = []
    for _ in range(40):  # ten simulated minutes: every `for` duration has elapsed
        sandbox.advance(15)
        sent.extend(sandbox.outbox)
        sandbox.outbox.clear()
    return sent


async def test_a_database_fault_lighting_up_its_callers_is_one_incident(
    workflow_app: Any,
) -> None:
    webhooks = database_fault_webhooks()
    alerting = {a["labels"].get("service") for w in webhooks for a in w["alerts"]}
    callers = alerting - {"orders-db", None}
    assert "orders-db" in alerting and len(callers) >= 3  # the fault does light up callers
    debate = ScriptedDebate()
    async with workflow_app(debate, service_map=service_map()) as client:
        for body in webhooks:
            response = await client.post("/api/v1/alerts/alertmanager", json=body)
            assert response.status_code == 202, response.text
        [item] = (await client.get("/api/v1/incidents")).json()["items"]
        await wait_for(lambda: decision_of(client, item["id"], "ready"), what="the decision")
        incident = (await client.get(f"/api/v1/incidents/{item['id']}")).json()
    assert (incident["namespace"], incident["service"]) == ("data", "orders-db")
    assert set(incident["services"]) == alerting - {None}
    assert debate.calls == [item["id"]]  # debated once, for the whole cascade
