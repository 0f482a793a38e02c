from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from sse_starlette.sse import AppStatus
from webkit import firing, web_app

from warroom.api.app import container_of
from warroom.config import Settings


def parse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Split an SSE body into (event, data) pairs."""
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], orjson.loads(fields["data"])))
    return out


async def test_the_stream_sends_a_bus_event_then_closes(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with web_app(settings, engine) as web:
        request = asyncio.create_task(web.client.get("/api/v1/events", params={"limit": 1}))
        bus = container_of(web.app).bus
        # the stream subscribes once it starts: publish until it has taken one and ended
        while not request.done():
            await bus.publish("agent.turn", {"incident_id": "i-1", "role": "critic"})
            await asyncio.sleep(0.05)
        response = await request
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("retry: ")
    assert parse(response.text) == [
        # the head is 2: the test client's own user and token were audited
        ("hello", {"audit_seq": 2}), ("agent.turn", {"incident_id": "i-1", "role": "critic"})]


async def test_the_stream_sends_new_audit_rows_as_they_are_written(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(settings, engine) as web:
        request = asyncio.create_task(web.client.get("/api/v1/events", params={"limit": 1}))
        n = 0
        while not request.done():  # a new alert each time, in case the stream began after one
            body = firing(fixtures_dir)
            body["alerts"][0]["fingerprint"] = f"fp{n}"
            body["alerts"][0]["labels"]["instance"] = f"pod-{n}"
            assert (await web.client.post("/api/v1/alerts/alertmanager",
                                          json=body)).status_code == 202
            n += 1
            await asyncio.sleep(0.2)
        response = await request
    (name, hello), (kind, row) = parse(response.text)
    assert name == "hello" and kind == "audit"
    assert row["seq"] > hello["audit_seq"] and row["kind"].startswith(("signal", "incident"))
    assert row["incident_id"]


async def test_a_reconnecting_client_gets_the_audit_rows_it_missed(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    async with web_app(settings, engine) as web:
        await web.client.post("/api/v1/alerts/alertmanager", json=firing(fixtures_dir))
        response = await web.client.get("/api/v1/events", params={"limit": 1},
                                        headers={"Last-Event-ID": "2"})
    # rows 1 and 2 are the test client's own user and token
    (_, hello), (name, row) = parse(response.text)
    assert hello == {"audit_seq": 2}
    assert name == "audit" and row["seq"] == 3 and row["incident_id"]
    assert "id: 3\n" in response.text


async def test_the_stream_ends_when_the_client_disconnects(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with web_app(settings, engine) as web:
        sent: list[bytes] = []
        asked = 0
        greeted = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal asked
            asked += 1
            if asked == 1:
                return {"type": "http.request", "body": b"", "more_body": False}
            await greeted.wait()  # the client leaves once the stream has said hello
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message.get("body", b""))
            if b"event: hello" in sent[-1]:
                greeted.set()

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
                 "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": "/api/v1/events", "raw_path": b"/api/v1/events", "query_string": b"",
                 "headers": [(b"host", b"warroom"), (b"authorization", web.client.headers[
                     "authorization"].encode())], "client": ("127.0.0.1", 1),
                 "server": ("warroom", 80), "root_path": "", "state": {}}
        # a guard against hanging, not a performance figure
        await asyncio.wait_for(web.app(scope, receive, send), 10)
    assert b"event: hello" in b"".join(sent)


async def test_the_stream_ends_when_uvicorn_is_asked_to_exit(
    settings: Settings, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sse-starlette's flag is process-wide: undo it after this test
    monkeypatch.setattr(AppStatus, "should_exit", False)
    async with web_app(settings, engine) as web:
        request = asyncio.create_task(web.client.get("/api/v1/events"))
        await asyncio.sleep(0.2)
        assert not request.done()
        server = uvicorn.Server(uvicorn.Config(web.app))
        server.handle_exit(signal.SIGTERM, None)  # what uvicorn's signal handler calls
        assert server.should_exit
        response: httpx.Response = await asyncio.wait_for(request, 10)
    assert parse(response.text)[-1] == ("bye", {"reason": "shutdown"})


async def test_a_debate_run_by_the_workflow_shows_up_on_the_dashboard_stream(
    wf_settings: Settings, engine: AsyncEngine
) -> None:
    """Two loops, as in production: the stream's (the app's) and DBOS's, where the steps run."""
    from wfkit import post_alert

    from warroom.agents.service import analyze_incident
    from warroom.api.testing import app_client
    from warroom.learn.service import playbook_trust
    from warroom.llm.debate import LanguageModels

    debate_loops: list[asyncio.AbstractEventLoop] = []

    async def real_debate(*args: Any, **kwargs: Any) -> Any:
        debate_loops.append(asyncio.get_running_loop())
        return await analyze_incident(*args, trust=playbook_trust, models=LanguageModels(),
                                      **kwargs)  # the rule debate publishes its turns

    async with app_client(wf_settings, engine=engine,
                          runtime={"analyzer": real_debate}) as client:
        sent: list[bytes] = []
        asked = 0
        greeted, packaged = asyncio.Event(), asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal asked
            asked += 1
            if asked == 1:
                return {"type": "http.request", "body": b"", "more_body": False}
            await packaged.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message.get("body", b""))
            if b"event: hello" in sent[-1]:
                greeted.set()
            if b"event: debate.package" in sent[-1]:
                packaged.set()

        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"},
                 "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": "/api/v1/events", "raw_path": b"/api/v1/events", "query_string": b"",
                 "headers": [(b"host", b"warroom"), (b"authorization", client.headers[
                     "authorization"].encode())], "client": ("127.0.0.1", 1),
                 "server": ("warroom", 80), "root_path": "", "state": {}}
        stream = asyncio.create_task(client.app(scope, receive, send))
        # guards against hanging, not performance figures
        await asyncio.wait_for(greeted.wait(), 10)  # subscribed before the alert comes in
        incident_id = await post_alert(client)
        await asyncio.wait_for(packaged.wait(), 30)
        await asyncio.wait_for(stream, 10)
    events = dict(parse(b"".join(sent).decode()))
    assert events["debate.package"]["incident_id"] == incident_id
    assert events["agent.turn"]["incident_id"] == incident_id
    assert debate_loops and all(loop is not asyncio.get_running_loop() for loop in debate_loops)
