from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.api.app import container_of
from warroom.api.testing import AppClient, app_client
from warroom.config import Settings
from warroom.ingest.models import IncidentRef
from warroom.store.tables import AuditEvent, Incident, Signal

AM = "/api/v1/alerts/alertmanager"


def fixture(fixtures_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / f"alertmanager-webhook-{name}.json").read_text())


async def counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessions() as session:
        found = [
            int((await session.execute(select(func.count()).select_from(t))).scalar() or 0)
            for t in (Incident, Signal, AuditEvent)
        ]
    return found[0], found[1], found[2]


async def test_fixture_round_trip_through_the_api(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    fixtures_dir: Path,
) -> None:
    firing = fixture(fixtures_dir, "firing")
    response = await client.post(AM, json=firing)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 1
    [ref] = body["incidents"]
    assert (ref["priority"], ref["service"], ref["namespace"], ref["status"]) == (
        "P1",
        "checkout",
        "shop",
        "open",
    )
    assert ref["created"] is True
    first = await counts(sessions)
    again = await client.post(AM, json=firing)
    assert again.status_code == 202
    assert again.json()["incidents"][0]["created"] is False
    second = await counts(sessions)
    assert second[:2] == first[:2] == (1, 1)

    listed = (await client.get("/api/v1/incidents")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == ref["id"]
    detail = (await client.get(f"/api/v1/incidents/{ref['id']}")).json()
    [signal] = detail["signals"]
    assert signal["labels"]["service"] == "checkout"
    assert signal["annotations"]["summary"] == "Error ratio high on checkout"
    assert signal["receive_count"] == 2
    assert signal["starts_at"] == "2026-11-22T04:48:31.063000Z"

    resolved = await client.post(AM, json=fixture(fixtures_dir, "resolved"))
    assert resolved.json()["incidents"][0]["status"] == "resolved"
    detail = (await client.get(f"/api/v1/incidents/{ref['id']}")).json()
    assert detail["status"] == "resolved" and detail["signals"][0]["status"] == "resolved"
    trail = (await client.get("/api/v1/audit", params={"incident_id": ref["id"]})).json()
    # 2 rows for the test client's own user and token, then the incident's 5
    assert trail["chain"] == {"ok": True, "checked": 7, "first_bad_seq": None}
    assert [e["kind"] for e in trail["events"]][-1] == "incident.resolved"


async def test_generic_alerts_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/alerts",
        json={
            "source": "cron",
            "alerts": [
                {
                    "name": "BackupFailed",
                    "severity": "critical",
                    "namespace": "ops",
                    "service": "backup",
                    "summary": "nightly backup failed",
                }
            ],
        },
    )
    assert response.status_code == 202, response.text
    [ref] = response.json()["incidents"]
    assert (ref["priority"], ref["service"]) == ("P1", "backup")
    bad = await client.post("/api/v1/alerts", json={"alerts": [{"severity": "critical"}]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "$.alerts[0].name"


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        (b"", 400, None),
        (b"not json", 400, None),
        (b"[1, 2]", 422, "$"),
        (b'{"status": "firing"}', 422, "$.alerts"),
        (b'{"status": "firing", "alerts": []}', 422, "$.alerts"),
        (
            b'{"status": "burning", "alerts": [{"status": "firing", "labels": {}, '
            b'"startsAt": "2026-01-01T00:00:00Z"}]}',
            422,
            "$.status",
        ),
        (
            b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"a": 1}, '
            b'"startsAt": "2026-01-01T00:00:00Z"}]}',
            422,
            "$.alerts[0].labels.a",
        ),
        (
            b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"a": "x"}, '
            b'"startsAt": "yesterday"}]}',
            422,
            "$.alerts[0].startsAt",
        ),
        (
            b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"a": "x\\u0000"}, '
            b'"startsAt": "2026-01-01T00:00:00Z"}]}',
            422,
            "$.alerts[0].labels.a",
        ),
    ],
)
async def test_malformed_bodies_get_4xx_naming_the_problem(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    body: bytes,
    status: int,
    path: str | None,
) -> None:
    response = await client.post(AM, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["detail"]
    if path is not None:
        assert path in [e["path"] for e in answer["errors"]]
    assert await counts(sessions) == (0, 0, 2)  # 2: the test client's user and token


async def test_body_over_the_limit_is_refused_with_413(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2000})
    body = json.dumps(fixture(fixtures_dir, "firing")).encode()
    assert len(body) < 2000
    async with app_client(small, engine=engine, hooks=False) as client:
        assert (await client.post(AM, content=body)).status_code == 202
        huge = body + b" " * 2000
        declared = await client.post(AM, content=huge)
        assert declared.status_code == 413
        assert "limit of 2000" in declared.json()["detail"]

        async def stream() -> Any:  # no Content-Length: the streamed size is what counts
            for _ in range(10):
                yield b" " * 500

        streamed = await client.post(AM, content=stream())
        assert streamed.status_code == 413


async def test_database_unavailable_answers_503(settings: Settings, tmp_path: Path) -> None:
    if settings.effective_database_url.startswith("sqlite"):
        (tmp_path / "db.sqlite").mkdir()  # a directory where the database file should be
        down = f"sqlite+aiosqlite:///{tmp_path}/db.sqlite"
    else:
        down = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    from warroom.api.app import create_app

    app = create_app(settings.model_copy(update={"database_url": down}))
    transport = httpx.ASGITransport(app=app)  # no lifespan: the database was never reachable
    # checking the token needs the database too: that also answers 503, so senders retry
    bearer = {"Authorization": "Bearer wr_" + "x" * 43}
    async with httpx.AsyncClient(transport=transport, base_url="http://warroom",
                                 headers=bearer) as client:
        response = await client.post(
            AM,
            json={
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": {"alertname": "A"},
                        "startsAt": "2026-01-01T00:00:00Z",
                    }
                ],
            },
        )
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert "unavailable" in response.json()["detail"]
        assert (await client.get("/healthz")).status_code == 503
    await container_of(app).engine.dispose()
    # aiosqlite leaves a worker thread behind a failed connect until the connection object is
    # collected: collect it while this test's loop still runs, so the thread can finish
    gc.collect()
    await asyncio.sleep(0.05)


async def test_failure_mid_batch_writes_nothing(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    fixtures_dir: Path,
) -> None:
    def lose_database(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("INSERT INTO audit_events"):
            raise OperationalError(statement, {}, ConnectionResetError("server went away"))

    assert isinstance(client, AppClient)
    # on a SQLite file the group commit has a connection of its own (`eager_writer_engine`)
    writer = container_of(client.app).ingest_engine or engine
    event.listen(writer.sync_engine, "before_cursor_execute", lose_database)
    try:
        response = await client.post(AM, json=fixture(fixtures_dir, "firing"))
    finally:
        event.remove(writer.sync_engine, "before_cursor_execute", lose_database)
    assert response.status_code == 503
    assert await counts(sessions) == (0, 0, 2)  # 2: the test client's user and token
    assert (await client.post(AM, json=fixture(fixtures_dir, "firing"))).status_code == 202
    assert await counts(sessions) == (1, 1, 4)  # 2 for the test client, 2 for the alert


async def test_listeners_hear_after_commit_and_cannot_fail_the_request(
    settings: Settings,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    fixtures_dir: Path,
) -> None:
    heard: list[tuple[list[IncidentRef], tuple[int, int, int]]] = []

    class Recorder:
        async def incidents_changed(self, incidents: list[IncidentRef]) -> None:
            heard.append((incidents, await counts(sessions)))

    class Broken:
        async def incidents_changed(self, incidents: list[IncidentRef]) -> None:
            raise RuntimeError("listener bug")

    apps: list[FastAPI] = []

    def configure(app: FastAPI) -> None:
        container_of(app).listeners.extend([Broken(), Recorder()])
        apps.append(app)

    async with app_client(settings, engine=engine, configure=configure, hooks=False) as client:
        response = await client.post(AM, json=fixture(fixtures_dir, "firing"))
        await container_of(apps[0]).committer.idle()
    assert response.status_code == 202
    [(incidents, seen)] = heard
    assert incidents[0].created and incidents[0].service == "checkout"
    assert seen[:2] == (1, 1)  # committed before the listener ran


async def test_incident_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    def am(name: str, service: str, severity: str, status: str = "firing") -> dict[str, Any]:
        return {
            "status": status,
            "labels": {
                "alertname": name,
                "namespace": "shop",
                "service": service,
                "severity": severity,
            },
            "startsAt": "2026-01-01T00:00:00Z",
        }

    alerts = [am("A", f"svc{i}", "critical" if i % 2 else "warning") for i in range(5)]
    assert (await client.post(AM, json={"status": "firing", "alerts": alerts})).status_code == 202
    resolve = {"status": "resolved", "alerts": [am("A", "svc0", "warning", "resolved")]}
    assert (await client.post(AM, json=resolve)).status_code == 202

    async def page(**params: Any) -> dict[str, Any]:
        response = await client.get("/api/v1/incidents", params=params)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    assert (await page())["total"] == 5
    assert (await page(status="resolved"))["items"][0]["service"] == "svc0"
    assert (await page(status="open"))["total"] == 4
    assert (await page(priority="P1"))["total"] == 2
    assert (await page(severity="warning"))["total"] == 3
    assert [i["service"] for i in (await page(service="svc3"))["items"]] == ["svc3"]
    first, second = await page(limit=3), await page(limit=3, offset=3)
    assert len(first["items"]) == 3 and len(second["items"]) == 2 and second["total"] == 5
    ids = {i["id"] for i in first["items"]} | {i["id"] for i in second["items"]}
    assert len(ids) == 5
    assert (await client.get("/api/v1/incidents", params={"status": "bogus"})).status_code == 422
    assert (await client.get("/api/v1/incidents/nope")).status_code == 404
