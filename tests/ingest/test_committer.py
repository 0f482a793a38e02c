from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

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


async def test_changes_are_told_before_the_answer_and_resends_in_the_background(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    heard: list[list[IncidentRef]] = []

    class Recorder:
        async def incidents_changed(self, incidents: list[IncidentRef]) -> None:
            heard.append(incidents)

    def configure(app: FastAPI) -> None:
        app.state.listeners.append(Recorder())

    firing = (fixtures_dir / "alertmanager-webhook-firing.json").read_bytes()
    async with app_client(settings, engine=engine, configure=configure) as client:
        assert (await client.post(AM, content=firing)).status_code == 202
        assert len(heard) == 1 and heard[0][0].created and heard[0][0].changed
        assert (await client.post(AM, content=firing)).status_code == 202
        for _ in range(100):  # the re-send is told by the background notifier
            if len(heard) == 2:
                break
            await asyncio.sleep(0.01)
        [resent] = heard[1]
        assert not resent.created and not resent.changed and resent.status == "open"
        resolved = (fixtures_dir / "alertmanager-webhook-resolved.json").read_bytes()
        assert (await client.post(AM, content=resolved)).status_code == 202
        assert heard[-1][0].status == "resolved" and heard[-1][0].changed
