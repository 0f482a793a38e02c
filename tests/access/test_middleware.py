"""The gate, through the real app: every route enumerated, roles, webhooks' auth, headers."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.access.middleware import is_public
from warroom.access.models import Role
from warroom.api.testing import app_client
from warroom.config import Settings
from warroom.sandbox.embed import router as sandbox_router

# the explicit allow-list: anyone may call these (the metrics endpoint may not exist yet)
PUBLIC = {"/healthz", "/metrics", "/login", "/auth/oidc/login", "/auth/oidc/callback",
          "/web/static/{name}"}
# chat platforms' callbacks, authenticated by the platform's signature (tests/notify)
CALLBACKS = {"/api/v1/notify/slack/interactions", "/api/v1/notify/telegram/webhook"}
# changes any signed-in identity may make: send alerts, sign itself out
ANY_ROLE_CHANGES = {("POST", "/api/v1/alerts"), ("POST", "/api/v1/alerts/alertmanager"),
                    ("POST", "/logout")}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
PARAMS = {"verdict": "approve"}


def _with_sandbox_routes(app: FastAPI) -> None:
    app.include_router(sandbox_router(None))  # type: ignore[arg-type]  # never reached


def _routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """Return (method, route path, a concrete path) for every route of the app."""
    found = []
    for route in iter_route_contexts(app.routes):
        concrete = re.sub(r"{(\w+)(:\w+)?}", lambda m: PARAMS.get(m.group(1), "x1"), route.path)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            found.append((method, route.path, concrete))
    return found


async def test_every_route_but_the_public_ones_needs_a_token_and_changes_need_the_role(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, engine=engine, hooks=False, user=None,
                          configure=_with_sandbox_routes) as client:
        viewer = await client.as_user("vic", Role.viewer)
        routes = _routes(client.app)
        assert {p for _, p, _ in routes} >= {"/api/v1/decisions/{token}/approve",
                                             "/api/v1/sandbox/faults", "/api/v1/tokens"}
        checked = 0
        for method, path, concrete in routes:
            public = path in PUBLIC or path in CALLBACKS
            assert public == is_public(concrete), path
            if public:
                continue
            bare = await client.request(method, concrete, json={})
            if method == "GET" and not path.startswith("/api/"):  # a page: sign in first
                assert bare.status_code == 303, (method, path, bare.status_code)
                assert bare.headers["location"].startswith("/login?next=")
            else:
                assert bare.status_code == 401, (method, path, bare.status_code, bare.text)
            bad = await client.request(method, concrete, json={},
                                       headers={"Authorization": "Bearer wr_forged"})
            assert bad.status_code == 401, (method, path)
            if method in MUTATING and (method, path) not in ANY_ROLE_CHANGES:
                weak = await client.request(method, concrete, json={}, headers=viewer)
                assert weak.status_code == 403, (method, path, weak.status_code, weak.text)
            checked += 1
    assert checked >= 25


async def test_admins_create_list_and_revoke_tokens_that_are_stored_hashed(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, engine=engine, hooks=False) as client:
        made = await client.post("/api/v1/tokens", json={"name": "Carol", "role": "approver",
                                                         "days": 7, "description": "laptop"})
        assert made.status_code == 201, made.text
        new = made.json()
        assert new["name"] == "carol" and new["role"] == "approver"
        secret = new["token"]
        carol = {"Authorization": f"Bearer {secret}"}
        assert (await client.get("/api/v1/me", headers=carol)).json() == {
            "name": "carol", "role": "approver"}
        listed = (await client.get("/api/v1/tokens", params={"name": "carol"})).json()
        assert [t["id"] for t in listed] == [new["id"]] and "token" not in listed[0]
        assert (await client.get("/api/v1/tokens", headers=carol)).status_code == 403
        rows = []
        async with engine.connect() as conn:
            for table in ("api_tokens", "users", "audit_events"):
                rows += (await conn.exec_driver_sql(f"SELECT * FROM {table}")).all()
        dump = "\n".join(str(row) for row in rows)
        assert secret not in dump and secret[10:] not in dump  # only a hash and a prefix

        gone = await client.delete(f"/api/v1/tokens/{new['id']}")
        assert gone.status_code == 200 and gone.json()["revoked_by"] == "alice"
        assert (await client.get("/api/v1/me", headers=carol)).status_code == 401
        assert (await client.delete(f"/api/v1/tokens/{new['id']}")).status_code == 409
        nobody = await client.post("/api/v1/tokens", json={"name": "nobody"})
        assert nobody.status_code == 422 and "give a role" in nobody.json()["detail"]
        trail = (await client.get("/api/v1/audit", params={"kind": "access.token_revoked"}))
    assert [(e["actor"], e["payload"]["token_id"]) for e in trail.json()["events"]] == [
        ("alice", new["id"])]


async def test_webhooks_take_bearer_or_basic_auth_and_refuse_anonymous_alerts(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    body = (fixtures_dir / "alertmanager-webhook-firing.json").read_bytes()
    json_type = {"content-type": "application/json"}
    async with app_client(settings, engine=engine, hooks=False, user=None) as client:
        token = await client.token_for("alertmanager", Role.viewer)
        url = "/api/v1/alerts/alertmanager"
        anonymous = await client.post(url, content=body, headers=json_type)
        assert anonymous.status_code == 401 and "Basic" in anonymous.headers["www-authenticate"]
        bearer = await client.post(url, content=body, headers={
            **json_type, "Authorization": f"Bearer {token}"})
        assert bearer.status_code == 202
        basic = base64.b64encode(f"alertmanager:{token}".encode()).decode()
        assert (await client.post(url, content=body, headers={
            **json_type, "Authorization": f"Basic {basic}"})).status_code == 202
        other = base64.b64encode(f"mallory:{token}".encode()).decode()
        assert (await client.post(url, content=body, headers={
            **json_type, "Authorization": f"Basic {other}"})).status_code == 401
        # basic auth is for the webhooks only
        assert (await client.get("/api/v1/incidents", headers={
            "Authorization": f"Basic {basic}"})).status_code == 401
        incidents = (await client.get("/api/v1/incidents", headers={
            "Authorization": f"Bearer {token}"})).json()
    assert incidents["total"] == 1

    open_ingest = settings.model_copy(update={"ingest_auth": False})
    async with app_client(open_ingest, engine=engine, hooks=False, user=None) as client:
        assert (await client.post("/api/v1/alerts/alertmanager", content=body,
                                  headers=json_type)).status_code == 202
        assert (await client.get("/api/v1/incidents")).status_code == 401


async def test_with_authentication_off_anonymous_callers_are_the_local_admin(
    settings: Settings, engine: AsyncEngine
) -> None:
    off = settings.model_copy(update={"auth_enabled": False})
    async with app_client(off, engine=engine, hooks=False, user=None) as client:
        assert (await client.get("/api/v1/me")).json() == {"name": "local", "role": "admin"}
        named = await client.as_user("bob")
        assert (await client.get("/api/v1/me", headers=named)).json()["name"] == "bob"


async def test_every_response_carries_the_security_headers(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, engine=engine, hooks=False) as client, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=client.app), base_url="http://warroom") as anonymous:
        responses = [await client.get("/healthz"), await client.get("/api/v1/incidents"),
                     await client.get("/"), await client.get("/web/static/app.css"),
                     await client.get("/api/v1/nope"), await anonymous.get("/api/v1/audit"),
                     await anonymous.get("/login"), await client.get("/docs")]
    for response in responses:
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", response.url
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
    dashboard = responses[2].headers["content-security-policy"]
    assert "script-src 'self';" in dashboard and "unsafe-inline" not in dashboard
    assert "cdn.jsdelivr.net" in responses[-1].headers["content-security-policy"]
