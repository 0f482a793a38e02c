from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


async def test_healthz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_audit_endpoint_filters_and_reports_tampering(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    for name in ("A", "B"):
        alert = {
            "status": "firing",
            "labels": {"alertname": name, "job": name},
            "startsAt": "2026-11-22T04:00:00Z",
        }
        response = await client.post(
            "/api/v1/alerts/alertmanager", json={"status": "firing", "alerts": [alert]}
        )
        assert response.status_code == 202
    first = response.json()["incidents"][0]["id"]
    trail = (await client.get("/api/v1/audit")).json()
    # 2 rows from the test client's own user and token, then 2 alerts' 2 rows each
    assert trail["chain"] == {"ok": True, "checked": 6, "first_bad_seq": None}
    mine = (await client.get("/api/v1/audit", params={"incident_id": first})).json()
    assert {e["incident_id"] for e in mine["events"]} == {first}
    kinds = (await client.get("/api/v1/audit", params={"kind": "incident.opened"})).json()
    assert len(kinds["events"]) == 2
    quick = (await client.get("/api/v1/audit", params={"verify": "false", "limit": 1})).json()
    assert quick["chain"] is None and len(quick["events"]) == 1

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER audit_events_no_update"))
        await conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    broken = (await client.get("/api/v1/audit")).json()
    assert broken["chain"] == {"ok": False, "checked": 2, "first_bad_seq": 3}
