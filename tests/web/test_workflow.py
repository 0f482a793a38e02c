"""Through the real workflow: the page's approval wakes it, and the page shows what it did."""

from __future__ import annotations

from typing import Any

import httpx
from wfkit import ScriptedDebate, decision_of, post_alert, wait_for


async def _status(client: httpx.AsyncClient, token: str, *states: str) -> bool:
    view = (await client.get(f"/api/v1/decisions/{token}")).json()
    return bool(view["status"] in states)


async def test_an_approval_on_the_page_wakes_the_workflow_and_the_page_shows_the_call(
    workflow_app: Any,
) -> None:
    async with workflow_app(ScriptedDebate()) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        token = decision["token"]
        before = (await client.get(f"/incidents/{incident_id}")).text
        assert "awaiting approval" in before and "scaling may starve the node" in before

        answered = await client.post(f"/incidents/{incident_id}/decisions/{token}/approve",
                                     data={"approver": "alice", "comment": "go"})
        assert answered.status_code == 303
        await wait_for(lambda: _status(client, token, "verifying", "completed"),
                       what="the shadow execution")
        page = (await client.get(f"/incidents/{incident_id}")).text

    assert "alice</strong> via web" in page
    assert "shadow executor" in page
    assert "PATCH /apis/apps/v1/namespaces/shop/deployments/checkout/scale" in page
    assert "kubectl" in page and "execution.call" in page
    assert "Approve</legend>" not in page  # no form once the decision has moved on
