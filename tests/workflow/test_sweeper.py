"""A workflow that failed for good hands its decision to a human instead of hanging for ever."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from wfkit import ScriptedDebate, decision_of, post_alert, wait_for

from warroom.workflow import steps


async def _ended(client: Any, incident_id: str, status: str) -> dict[str, Any] | None:
    body = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    decision = body.get("decision")
    if decision is None or decision["status"] != status:
        return None
    return dict(body)


def _bug(*_: Any, **__: Any) -> Any:
    raise RuntimeError("a bug no retry mends")


@pytest.mark.parametrize(("broken", "ended"), [
    ("open_step", "failed"),  # before the round opened its decision: the incident had none
    ("analyze_step", "failed"),  # after: the decision was `analyzing`
    ("describe_step", "expired"),  # the decision's own workflow, the decision `ready`
])
async def test_a_workflow_that_failed_for_good_is_handed_to_a_human(
    workflow_app: Any, monkeypatch: pytest.MonkeyPatch, broken: str, ended: str
) -> None:
    monkeypatch.setattr(steps, broken, _bug)
    async with workflow_app(ScriptedDebate(), workflow_sweep_seconds=0.1) as client:
        incident_id = await post_alert(client)
        await wait_for(lambda: _ended(client, incident_id, ended),
                       what="the decision handed to a human")
        # a re-sent alert starts nothing new while a human has it, and later sweeps end
        # nothing twice
        assert await post_alert(client) == incident_id
        await asyncio.sleep(0.5)
        body = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
        assert body["decision"]["status"] == ended
    (move,) = [e for e in body["timeline"] if e["kind"] == f"decision.{ended}"]
    assert "failed for good" in move["data"]["reason"]
    assert "RuntimeError: a bug no retry mends" in move["data"]["reason"]


async def test_a_healthy_round_is_left_alone_by_the_sweep(workflow_app: Any) -> None:
    async with workflow_app(ScriptedDebate(), workflow_sweep_seconds=0.05) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        await asyncio.sleep(0.5)  # ten sweeps pass while it waits for its approval
        assert await decision_of(client, incident_id, "ready") == decision
