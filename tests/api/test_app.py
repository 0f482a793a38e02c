from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from warroom.api.app import container_of
from warroom.api.testing import app_client
from warroom.config import Settings


async def test_openapi_documents_the_webhook_bodies(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, engine=engine, hooks=False) as client:
        assert (await client.get("/docs")).status_code == 200
        schema = (await client.get("/openapi.json")).json()
    body = schema["paths"]["/api/v1/alerts/alertmanager"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/AlertmanagerWebhook")
    components = schema["components"]["schemas"]
    assert "startsAt" in components["AlertmanagerAlert"]["properties"]
    assert "name" in components["GenericAlert"]["properties"]


async def test_hooks_and_detail_providers_plug_in(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    log: list[str] = []

    @asynccontextmanager
    async def worker(app: FastAPI) -> AsyncIterator[None]:
        log.append(f"start worker={container_of(app).settings.embedded_worker}")
        yield
        log.append("stop")

    async def evidence(session: AsyncSession, incident_id: str) -> dict[str, object]:
        return {"evidence": {"incident": incident_id}}

    async def broken(session: AsyncSession, incident_id: str) -> dict[str, object]:
        raise RuntimeError("sensor store offline")

    def configure(app: FastAPI) -> None:
        container_of(app).lifespan_hooks.append(worker)
        container_of(app).incident_detail_providers.extend([evidence, broken])

    firing = (fixtures_dir / "alertmanager-webhook-firing.json").read_bytes()
    async with app_client(settings, engine=engine, configure=configure, hooks=False) as client:
        assert log == ["start worker=True"]
        posted = await client.post("/api/v1/alerts/alertmanager", content=firing)
        incident_id = posted.json()["incidents"][0]["id"]
        detail = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
    assert log == ["start worker=True", "stop"]
    assert detail["evidence"] == {"incident": incident_id}
    assert detail["signals"][0]["fingerprint"] == "24ead76e14c254b2"
    assert "sensor store offline" in detail["unavailable"][0]
