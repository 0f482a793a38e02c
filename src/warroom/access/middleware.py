"""The gate in front of every request: who is asking, forged forms refused, security headers.

Deny by default: every path needs an API token (`Authorization: Bearer wr_...`) or a dashboard
session cookie, except the explicit `PUBLIC_PATHS` (and the webhooks when `ingest_auth` is off).
Roles are checked by the endpoints (`access.deps`); this only establishes the identity, which
it puts in `request.state.identity`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from typing import Any
from urllib.parse import parse_qs, quote

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from warroom.access import service
from warroom.access.models import LOCAL, Identity, SignedIn
from warroom.config import Settings
from warroom.http.errors import database_unavailable, unavailable_response

log = logging.getLogger(__name__)

# the only paths anyone may reach without credentials
PUBLIC_PATHS = frozenset({
    "/healthz", "/metrics", "/login", "/auth/oidc/login", "/auth/oidc/callback",
})
# probes and scrapers: answered without even reading credentials, so they work (and say so)
# while the database that holds the tokens is down
PROBE_PATHS = frozenset({"/healthz", "/metrics"})
PUBLIC_PREFIXES = ("/web/static/",)
# chat platforms' callbacks: they cannot send a warroom token; each request is authenticated by
# the platform's own signature (Slack's signing secret, Telegram's secret-token header) and the
# clicking user must map to a warroom user with the approver role (see notify/endpoints.py)
PLATFORM_CALLBACKS = frozenset({
    "/api/v1/notify/slack/interactions", "/api/v1/notify/telegram/webhook",
})  # the dashboard's stylesheet and script
# the webhooks: Alertmanager may also send basic auth (user name and a token as password)
INGEST_PATHS = frozenset({"/api/v1/alerts", "/api/v1/alerts/alertmanager"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_COOKIE = "warroom_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_BYTES = 64 * 1024
# no script or style from anywhere else, no inline script: an injected tag cannot run
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
# FastAPI's /docs and /redoc load their viewer from a CDN with an inline script
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
            "https:; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
)


def is_public(path: str) -> bool:
    """Tell whether anyone may reach `path` without credentials."""
    return path in PUBLIC_PATHS or path in PLATFORM_CALLBACKS or path.startswith(PUBLIC_PREFIXES)


class TokenCache:
    """Identities of recently verified tokens, by hash, for `auth_cache_seconds`."""

    def __init__(self, seconds: float, size: int = 4096) -> None:
        self.seconds = seconds
        self.size = size
        self._items: dict[str, tuple[float, Identity]] = {}

    def get(self, key: str) -> Identity | None:
        """Return the cached identity, or None when absent or stale."""
        item = self._items.get(key)
        if item is None or item[0] < time.monotonic():
            return None
        return item[1]

    def put(self, key: str, identity: Identity) -> None:
        """Remember a verified identity."""
        if self.seconds <= 0:
            return
        if len(self._items) >= self.size:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.seconds, identity)

    def clear(self) -> None:
        """Forget everything (a token was revoked or a role changed in this process)."""
        self._items.clear()


class Refused(Exception):
    """Credentials were presented and are wrong: answer 401 with this message."""


def _with_headers(send: Send, path: str) -> Send:
    csp = DOCS_CSP if path in ("/docs", "/redoc") else CSP

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in (*SECURITY_HEADERS, ("content-security-policy", csp)):
                headers.setdefault(name, value)
        await send(message)

    return wrapped


def _json(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"detail": detail}), status_code=status,
                    media_type="application/json", headers=headers)


class AccessMiddleware:
    """Authenticate every request (see the module docstring) and add the security headers."""

    def __init__(self, app: ASGIApp, *, settings: Settings,
                 sessions: async_sessionmaker[AsyncSession], cache: TokenCache) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the request through with its identity, or answer 401, 403 or a sign-in redirect."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        send = _with_headers(send, path)
        if path in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        settings = self.settings
        try:
            identity, signed_in = await self._authenticate(request, path)
        except Refused as exc:
            challenge = 'Bearer realm="warroom"'
            if path in INGEST_PATHS:
                challenge += ', Basic realm="warroom"'
            await _json(401, str(exc), {"WWW-Authenticate": challenge})(scope, receive, send)
            return
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            await unavailable_response(exc)(scope, receive, send)
            return
        open_path = is_public(path) or (path in INGEST_PATHS and not settings.ingest_auth)
        if identity is None and not settings.auth_enabled:
            identity = LOCAL
        if identity is None and not open_path:
            await self._unauthenticated(request, path)(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["identity"] = identity
        state["signed_in"] = signed_in
        if signed_in is not None and request.method not in SAFE_METHODS:
            receive, refused = await self._check_csrf(request, receive, signed_in)
            if refused is not None:
                await _json(403, refused)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _authenticate(
        self, request: Request, path: str
    ) -> tuple[Identity | None, SignedIn | None]:
        """Return the identity behind the credentials sent, if any; raise `Refused` if bad."""
        header = request.headers.get("authorization")
        if header:
            scheme, _, value = header.partition(" ")
            scheme = scheme.lower()
            if scheme == "bearer":
                return await self._token(request, value.strip(), None), None
            if scheme == "basic" and path in INGEST_PATHS:
                user, secret = _basic(value.strip())
                return await self._token(request, secret, user), None
            raise Refused("unsupported Authorization scheme: send `Bearer <token>`"
                          + (" or basic auth" if path in INGEST_PATHS else ""))
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            async with self.sessions() as session:
                signed_in = await service.session_of(session, cookie)
            if signed_in is not None:
                return signed_in.identity, signed_in
        return None, None

    async def _token(self, request: Request, secret: str, user: str | None) -> Identity:
        cache = self.cache
        key = service.hash_secret(secret)
        identity = cache.get(key)
        if identity is None:
            async with self.sessions() as session:
                identity = await service.identify_token(session, secret)
            if identity is None:
                raise Refused("the token is unknown, expired or revoked")
            cache.put(key, identity)
        if user is not None and user.strip().lower() != identity.name:
            raise Refused("basic auth: the user name is not the token's owner")
        return identity

    @staticmethod
    def _unauthenticated(request: Request, path: str) -> Response:
        if request.method in ("GET", "HEAD") and not path.startswith("/api/"):
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        challenge = 'Bearer realm="warroom"'
        if path in INGEST_PATHS:
            challenge += ', Basic realm="warroom"'
        return _json(401, "authentication required: send `Authorization: Bearer <token>` "
                     "(create one with `warroom tokens create`)", {"WWW-Authenticate": challenge})

    @staticmethod
    async def _check_csrf(
        request: Request, receive: Receive, signed_in: SignedIn
    ) -> tuple[Receive, str | None]:
        """Refuse a cookie-authenticated change without the session's anti-forgery token."""
        sent = request.headers.get(CSRF_HEADER, "")
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if not sent and content_type == "application/x-www-form-urlencoded":
            body, receive = await _buffer(receive)
            if body is None:
                return receive, f"the form is over {MAX_FORM_BYTES} bytes"
            values = parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD, [""])
            sent = values[0]
        if not sent or not hmac.compare_digest(sent.encode(), signed_in.csrf.encode()):
            return receive, ("not recorded: the form's anti-forgery token is missing or wrong "
                             "(reload the page and try again)")
        return receive, None


def _basic(value: str) -> tuple[str, str]:
    try:
        user, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Refused("basic auth: the credentials are not base64 of user:token") from exc
    return user, secret


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    """Read the whole body (up to `MAX_FORM_BYTES`) and return it with a `receive` replaying it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None, receive
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if replayed:
            return dict(await receive())
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
