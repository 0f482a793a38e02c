"""Dashboard sign-in end to end: token, OpenID Connect against a local fake provider, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from access.oidc_fake import CLIENT_ID, CLIENT_SECRET, fake_provider
from warroom.access import service
from warroom.access.models import Role
from warroom.api.app import container_of
from warroom.api.testing import AppClient, app_client
from warroom.config import Settings
from warroom.store import audit
from warroom.store.db import transaction
from warroom.store.tables import WebSession

HTTPS = "https://warroom"  # the session cookie is Secure: the browser talks HTTPS


def _cookie_flags(set_cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in set_cookie.split(";")[1:]}


async def _sign_in(client: AppClient, role: Role = Role.approver, name: str = "bob") -> None:
    token = await client.token_for(name, role)
    done = await client.post("/login", data={"token": token, "next": "/playbooks"})
    assert done.status_code == 303 and done.headers["location"] == "/playbooks"


async def test_a_token_signs_in_with_a_secure_session_and_sign_out_ends_it(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, engine=engine, hooks=False, user=None,
                          base_url=HTTPS) as client:
        away = await client.get("/playbooks")
        assert away.status_code == 303 and away.headers["location"] == "/login?next=%2Fplaybooks"
        page = await client.get("/login")
        assert page.status_code == 200 and 'name="token"' in page.text
        assert "Sign in with" not in page.text  # no single sign-on configured

        wrong = await client.post("/login", data={"token": "wr_nope"})
        assert wrong.status_code == 401 and "unknown, expired or revoked" in wrong.text
        token = await client.token_for("bob", Role.approver)
        for evil in ("//evil.example/", "/\t/evil.example", "https://evil.example"):
            away = await client.post("/login", data={"token": token, "next": evil})
            assert away.headers["location"] == "/"  # no open redirect
            client.cookies.clear()
        done = await client.post("/login", data={"token": token, "next": "/"})
        assert done.status_code == 303 and done.headers["location"] == "/"
        assert _cookie_flags(done.headers["set-cookie"]) >= {"secure", "httponly", "samesite",
                                                            "max-age", "path"}
        assert "samesite=lax" in done.headers["set-cookie"].lower()
        assert token not in done.headers["set-cookie"]

        home = await client.get("/")
        assert home.status_code == 200 and "Signed in as <strong>bob</strong>" in home.text
        assert (await client.get("/api/v1/me")).json() == {"name": "bob", "role": "approver"}
        csrf = home.text.split('name="csrf_token" value="')[1].split('"')[0]

        forged = await client.post("/logout", data={})
        assert forged.status_code == 403 and "anti-forgery" in forged.text
        out = await client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        client.cookies.clear()
        old = {"Cookie": f"warroom_session={done.cookies['warroom_session']}"}
        assert (await client.get("/", headers=old)).status_code == 303  # the old one is dead
        async with container_of(client.app).sessions() as session:
            kinds = [(e.kind, e.actor) for e in await audit.list_events(session)]
    assert ("access.login", "bob") in kinds and ("access.logout", "bob") in kinds


async def test_forms_need_the_session_csrf_token_and_the_same_origin(
    settings: Settings, engine: AsyncEngine, fixtures_dir: Path
) -> None:
    from web.webkit import firing, package, seed_decision

    async with app_client(settings, engine=engine, hooks=False, user=None,
                          base_url=HTTPS) as client:
        admin = await client.as_user("root", Role.admin)
        body = firing(fixtures_dir)
        incident_id = (await client.post("/api/v1/alerts/alertmanager", json=body,
                                         headers=admin)).json()["incidents"][0]["id"]

        class _Web:  # what seed_decision needs of the web kit
            app = client.app
            sessions = container_of(client.app).sessions

        token = await seed_decision(_Web(), incident_id, package(risk="medium"))  # type: ignore[arg-type]
        await _sign_in(client)
        page = await client.get(f"/incidents/{incident_id}")
        assert "Approve as bob" in page.text and 'name="approver"' not in page.text
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        form = f"/incidents/{incident_id}/decisions/{token}/approve"

        missing = await client.post(form, data={"comment": "ok"})
        assert missing.status_code == 403 and "anti-forgery" in missing.text
        wrong = await client.post(form, data={"comment": "ok", "csrf_token": "x" * len(csrf)})
        assert wrong.status_code == 403
        cross = await client.post(form, data={"csrf_token": csrf},
                                  headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403 and "evil.example" in cross.text
        ok = await client.post(form, data={"comment": "ok", "csrf_token": csrf})
        assert ok.status_code == 303, ok.text
        view = (await client.get(f"/api/v1/decisions/{token}", headers=admin)).json()
    assert [(a["approver"], a["via"]) for a in view["approvals"]] == [("bob", "web")]


async def test_a_viewer_sees_no_answer_form_and_an_expired_session_signs_out(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, engine=engine, hooks=False, user=None,
                          base_url=HTTPS) as client:
        await _sign_in(client, Role.viewer, "vic")
        assert (await client.get("/playbooks")).status_code == 200
        async with transaction(container_of(client.app).sessions) as session:
            await session.execute(update(WebSession).values(
                expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        assert (await client.get("/playbooks")).status_code == 303
        assert (await client.get("/api/v1/incidents")).status_code == 401


async def test_openid_connect_signs_in_a_known_user_and_refuses_forgeries(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with fake_provider() as idp:
        oidc = settings.model_copy(update={
            "oidc_issuer": idp.url, "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET, "oidc_provider_name": "Fake IdP",
            "secret_key": "test-secret",
        })
        async with app_client(oidc, engine=engine, hooks=False, user=None,
                              base_url=HTTPS) as client:
            async with transaction(container_of(client.app).sessions) as session:
                await service.save_user(session, name="Ann@Example.com", role=Role.approver,
                                        actor="test")
            assert "Sign in with Fake IdP" in (await client.get("/login")).text

            async def start(next_: str = "/audit") -> dict[str, str]:
                go = await client.get("/auth/oidc/login", params={"next": next_})
                assert go.status_code == 302, go.text
                location = urlsplit(go.headers["location"])
                assert f"{location.scheme}://{location.netloc}" == idp.url
                query = {k: v[0] for k, v in parse_qs(location.query).items()}
                assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
                assert query["redirect_uri"] == f"{HTTPS}/auth/oidc/callback"
                return query

            # a known user: signed in, sent where they were going
            query = await start()
            idp.issue("c1", nonce=query["nonce"], challenge=query["code_challenge"],
                      email="ann@example.com", email_verified=True)
            back = await client.get("/auth/oidc/callback",
                                    params={"code": "c1", "state": query["state"]})
            assert back.status_code == 303, back.text
            assert back.headers["location"] == "/audit"
            assert "httponly" in back.headers["set-cookie"].lower()
            assert (await client.get("/api/v1/me")).json() == {"name": "ann@example.com",
                                                              "role": "approver"}
            assert idp.token_requests[-1]["code_verifier"]  # PKCE was used
            client.cookies.delete("warroom_session")

            # an ID token signed by someone else's key
            query = await start()
            from joserfc.jwk import RSAKey
            idp.signing_key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
            idp.issue("c2", nonce=query["nonce"], challenge=query["code_challenge"],
                      email="ann@example.com")
            forged = await client.get("/auth/oidc/callback",
                                      params={"code": "c2", "state": query["state"]})
            assert forged.status_code == 401 and "Single sign-on failed" in forged.text
            idp.signing_key = None

            # an ID token for another client
            query = await start()
            idp.issue("c3", nonce=query["nonce"], challenge=query["code_challenge"],
                      email="ann@example.com", aud="someone-else")
            assert (await client.get("/auth/oidc/callback", params={
                "code": "c3", "state": query["state"]})).status_code == 401

            # a state this browser never started
            await start()
            assert (await client.get("/auth/oidc/callback", params={
                "code": "c4", "state": "not-mine"})).status_code == 401

            # a valid token for someone warroom does not know
            query = await start()
            idp.issue("c5", nonce=query["nonce"], challenge=query["code_challenge"],
                      email="eve@example.com", email_verified=True)
            stranger = await client.get("/auth/oidc/callback",
                                        params={"code": "c5", "state": query["state"]})
            assert stranger.status_code == 403 and "not a warroom user" in stranger.text
            assert "warroom_session" not in client.cookies
            assert (await client.get("/api/v1/me")).status_code == 401
            async with container_of(client.app).sessions() as session:
                logins = await audit.list_events(session, kind="access.login")
    assert [(e.actor, e.payload["via"]) for e in logins] == [("ann@example.com", "oidc")]
