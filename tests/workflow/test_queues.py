"""Queue limits: executions on one namespace never overlap, whichever worker carries them."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from wfkit import ScriptedDebate, decision_of, wait_for, webhook

from warroom.store.tables import Execution
from warroom.workflow.steps import execution_lane

INCIDENTS = 3


def alert(service: str) -> dict[str, Any]:
    body = copy.deepcopy(webhook())
    for item in body["alerts"]:
        item["labels"]["service"] = service
        item["fingerprint"] = uuid.uuid5(uuid.NAMESPACE_DNS, service).hex[:16]
    return body


def test_actions_queue_in_their_namespace_lane() -> None:
    assert execution_lane("shop/deployment/checkout") == "namespace:shop"
    assert execution_lane("/node/worker-2") == "cluster"
    assert execution_lane(None) == "cluster"


async def test_executions_on_one_namespace_run_one_at_a_time(
    workflow_app: Any, sessions: async_sessionmaker[AsyncSession]
) -> None:
    debate = ScriptedDebate()  # every action targets shop/deployment/checkout
    # each execution holds its step long enough that unlimited ones would overlap
    async with workflow_app(debate, execute_pause_seconds=0.3, execution_concurrency=4) as client:
        tokens = []
        for n in range(INCIDENTS):
            response = await client.post("/api/v1/alerts/alertmanager", json=alert(f"svc{n}"))
            incident_id = response.json()["incidents"][0]["id"]
            ready = await wait_for(lambda i=incident_id: decision_of(client, i, "ready"),
                                   what="a ready decision")
            tokens.append(ready["token"])
        for token in tokens:
            response = await client.post(f"/api/v1/decisions/{token}/approve",
                                         json={"approver": "alice"})
            assert response.status_code == 200, response.text

        async def finished() -> list[Execution] | None:
            async with sessions() as session:
                rows = list((await session.execute(select(Execution))).scalars().all())
            done = [r for r in rows if r.finished_at is not None]
            return done if len(done) == INCIDENTS else None

        rows = await wait_for(finished, timeout=30, what="every execution")
    spans = sorted((_utc(r.started_at), _utc(r.finished_at)) for r in rows)
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, "two executions on one namespace overlapped"


def _utc(value: datetime | None) -> datetime:
    assert value is not None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
