from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.api.app import container_of
from warroom.api.testing import app_client
from warroom.config import Settings
from warroom.ingest.models import IncidentRef
from warroom.store import audit
from warroom.store.tables import Signal

AM = "/api/v1/alerts/alertmanager"


def webhook(names: list[str]) -> dict[str, Any]:
    return {
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": n, "namespace": "shop", "service": n},
                "startsAt": "2026-11-22T04:00:00Z",
            }
            for n in names
        ],
    }


async def test_concurrent_webhooks_share_transactions_and_lose_nothing(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    bodies = [webhook([f"svc{i}", f"svc{i + 1}", "common"]) for i in range(20)]
    responses = await asyncio.gather(*(client.post(AM, json=b) for b in bodies))
    assert [r.status_code for r in responses] == [202] * 20
    assert all(r.json()["accepted"] == 3 for r in responses)
    async with sessions() as session:
        signals = (await session.execute(select(func.count()).select_from(Signal))).scalar()
        received = (await session.execute(select(func.sum(Signal.receive_count)))).scalar()
        assert (await audit.verify_chain(session)).ok
    assert (signals, received) == (22, 60)
    # every response names the incidents of its own alerts, "common" included
    for response in responses:
        assert "common" in {ref["service"] for ref in response.json()["incidents"]}


async def test_listeners_hear_changes_in_order_and_resends_coalesced(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    heard: list[list[IncidentRef]] = []
    apps: list[FastAPI] = []

    class Recorder:
        async def incidents_changed(self, incidents: list[IncidentRef]) -> None:
            heard.append(incidents)

    def configure(app: FastAPI) -> None:
        container_of(app).listeners.append(Recorder())
        apps.append(app)

    firing = (fixtures_dir / "alertmanager-webhook-firing.json").read_bytes()
    resolved = (fixtures_dir / "alertmanager-webhook-resolved.json").read_bytes()
    quick = settings.model_copy(update={"listener_resend_interval_seconds": 0.05})
    async with app_client(quick, engine=engine, configure=configure, hooks=False) as client:
        committer = container_of(apps[0]).committer
        assert (await client.post(AM, content=firing)).status_code == 202
        await committer.idle()
        [[opened]] = heard
        assert opened.created and opened.changed
        for _ in range(3):
            assert (await client.post(AM, content=firing)).status_code == 202
        await committer.idle()
        resent = [ref for batch in heard[1:] for ref in batch]
        assert resent and all(not r.created and not r.changed for r in resent)
        assert (await client.post(AM, content=resolved)).status_code == 202
    # shutting the app down drains the queue before the hooks stop
    assert heard[-1][0].status == "resolved" and heard[-1][0].changed
