"""A cascade is one incident: connected services join it, the deepest is its root candidate."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.api.testing import app_client
from warroom.config import Settings

AM = "/api/v1/alerts/alertmanager"
SHOP = {"gateway": ["frontend"], "frontend": ["checkout", "catalog", "search"],
        "checkout": ["orders", "payments"], "orders": ["orders-db"], "catalog": ["orders-db"],
        "payments": ["payment-provider"], "search": ["search-index"]}


def alert(service: str, namespace: str = "shop", name: str = "HighErrorRate") -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": name, "namespace": namespace, "service": service,
                   "severity": "critical"},
        "annotations": {"summary": f"{service} fails"},
        "startsAt": "2026-11-22T04:48:31Z", "endsAt": "0001-01-01T00:00:00Z",
    }


async def post(client: httpx.AsyncClient, *alerts: dict[str, Any]) -> list[str]:
    response = await client.post(AM, json={"status": "firing", "alerts": list(alerts)})
    assert response.status_code == 202, response.text
    return [ref["id"] for ref in response.json()["incidents"]]


async def incidents(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    items = (await client.get("/api/v1/incidents")).json()["items"]
    return [(await client.get(f"/api/v1/incidents/{i['id']}")).json() for i in items]


async def test_callers_and_their_database_make_one_incident_rooted_at_the_database(
    settings: Settings, engine: AsyncEngine
) -> None:
    mapped = settings.model_copy(update={"service_map": SHOP})
    async with app_client(mapped, engine=engine, hooks=False) as client:
        # the callers' alerts arrive first, one webhook each, then the database's
        await post(client, alert("checkout"))
        await post(client, alert("orders"), alert("catalog"))
        await post(client, alert("orders-db", namespace="data",
                                 name="DatabaseConnectionsSaturated"))
        await post(client, alert("frontend", name="HighLatencyP99"))
        [incident] = await incidents(client)
    assert (incident["namespace"], incident["service"]) == ("data", "orders-db")
    assert incident["services"][0] == "orders-db"
    assert sorted(incident["services"]) == ["catalog", "checkout", "frontend", "orders",
                                            "orders-db"]
    assert len(incident["signals"]) == 5


async def test_unrelated_alerts_stay_apart(settings: Settings, engine: AsyncEngine) -> None:
    mapped = settings.model_copy(update={"service_map": SHOP})
    async with app_client(mapped, engine=engine, hooks=False) as client:
        # a storm: services that do not depend on each other, and ones the map does not know
        await post(client, alert("orders-db", namespace="data"), alert("search-index"),
                   alert("payment-provider"), alert("billing"), alert("ledger"))
        await post(client, alert("search"))  # depends on search-index: joins that one only
        found = await incidents(client)
    assert len(found) == 5
    by_root = {i["service"]: i for i in found}
    assert sorted(by_root["search-index"]["services"]) == ["search", "search-index"]
    assert by_root["orders-db"]["services"] == ["orders-db"]


async def test_cascade_grouping_can_be_turned_off(settings: Settings, engine: AsyncEngine) -> None:
    off = settings.model_copy(update={"service_map": SHOP, "cascade_grouping": False})
    async with app_client(off, engine=engine, hooks=False) as client:
        await post(client, alert("orders"), alert("orders-db", namespace="data"))
        assert len(await incidents(client)) == 2
