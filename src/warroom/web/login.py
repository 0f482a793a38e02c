"""Dashboard sign-in: with an API token, or with OpenID Connect (authlib); sign-out.

The pages of the access context (users, tokens and sessions are its), rendered by the dashboard.

The session cookie (`warroom_session`) is Secure, HttpOnly and SameSite=Lax, holds a random
secret the database knows only by its hash, and ends after `session_seconds` or at sign-out.
"""

from __future__ import annotations

import logging
import secrets
import warnings
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from warroom.access import service
from warroom.access.deps import OidcClient
from warroom.access.middleware import SESSION_COOKIE
from warroom.access.models import Identity, Role
from warroom.config import Settings
from warroom.i18n.service import _
from warroom.store.deps import AppSettings, DbSession
from warroom.web.pages import cross_site, read_form, render, speak

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False, dependencies=[Depends(speak)])
OIDC_COOKIE = "warroom_oidc"  # the authlib state of one sign-in, signed, for ten minutes


def safe_next(value: str | None) -> str:
    """Return `value` when it is a path on this site, else `/` (no open redirect)."""
    if (not value or not value.startswith("/") or value.startswith("//") or "\\" in value
            or any(ord(c) < 33 for c in value)):  # browsers drop tabs: "/\t/x" is "//x"
        return "/"
    return value


def _page(request: Request, settings: Settings, *, next_: str, error: str | None = None,
          status_code: int = 200) -> HTMLResponse:
    # `who` stays empty: the page offers a sign-in, whoever may already be signed in
    return render("login.html", status_code, request=request, page="login", next=next_,
                  error=error, oidc=settings.oidc_provider_name if settings.oidc_enabled else "",
                  hours=round(settings.session_seconds / 3600, 1), who=None)


async def _start_session(
    session: DbSession, settings: Settings, identity: Identity, *, via: str, next_: str,
    detail: dict[str, str] | None = None,
) -> Response:
    cookie, _session = await service.sign_in(session, identity, via=via,
                                              seconds=settings.session_seconds, detail=detail)
    response = RedirectResponse(next_, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=settings.session_seconds, path="/",
                        secure=True, httponly=True, samesite="lax")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request, settings: AppSettings,
    next: Annotated[str | None, Query(max_length=2000)] = None,  # noqa: A002
) -> HTMLResponse:
    """Show the sign-in page: a token field, and the single sign-on button when configured."""
    return _page(request, settings, next_=safe_next(next))


@router.post("/login")
async def login(request: Request, session: DbSession, settings: AppSettings) -> Response:
    """Sign in with an API token: a dashboard session for the token's user."""
    form = await read_form(request)
    next_ = safe_next(form.get("next"))
    refused = cross_site(request)
    if refused is not None:
        return _page(request, settings, next_=next_, status_code=403,
                     error=_("not signed in: {reason}").format(reason=refused))
    identity = await service.identify_token(session, form.get("token", "").strip())
    if identity is None:
        log.warning("dashboard sign-in refused: unknown, expired or revoked token")
        return _page(request, settings, next_=next_, status_code=401,
                     error=_("That token is unknown, expired or revoked."))
    return await _start_session(session, settings, identity, via="token", next_=next_)


@router.post("/logout")
async def logout(request: Request, session: DbSession) -> Response:
    """End the dashboard session and forget its cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await service.sign_out(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


def _client(oidc: Any) -> Any:
    if oidc is None:
        raise HTTPException(404, "single sign-on is not configured (see docs/access.md)")
    return oidc


@router.get("/auth/oidc/login")
async def oidc_login(
    request: Request, settings: AppSettings, oidc: OidcClient,
    next: Annotated[str | None, Query(max_length=2000)] = None,  # noqa: A002
) -> Response:
    """Send the browser to the OpenID Connect provider (state, nonce and PKCE by authlib)."""
    client = _client(oidc)
    request.session["next"] = safe_next(next)
    redirect_uri = settings.oidc_redirect_url or str(request.url_for("oidc_callback"))
    try:
        response: Response = await client.authorize_redirect(request, redirect_uri)
    except Exception as exc:  # the provider's discovery document cannot be read
        log.warning("OIDC provider unavailable: %s", exc)
        return _page(request, settings, next_=safe_next(next), status_code=502,
                     error=_("The sign-on provider cannot be reached ({error}).").format(
                         error=type(exc).__name__))
    return response


@router.get("/auth/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request, session: DbSession, settings: AppSettings,
                        oidc: OidcClient) -> Response:
    """Finish an OpenID Connect sign-in: verify the ID token and open a session."""
    client = _client(oidc)
    next_ = safe_next(request.session.pop("next", "/"))
    try:
        token = await client.authorize_access_token(request)
    except Exception as exc:  # bad state, code, signature, issuer, audience, nonce, expiry
        log.warning("OIDC sign-in refused: %s: %s", type(exc).__name__, exc)
        return _page(request, settings, next_=next_, status_code=401,
                     error=_("Single sign-on failed: {error}").format(
                         error=f"{type(exc).__name__}: {exc}"))
    claims = token.get("userinfo") or {}
    claim = settings.oidc_username_claim
    raw = claims.get(claim)
    if not isinstance(raw, str) or not raw:
        return _page(request, settings, next_=next_, status_code=401,
                     error=_("The ID token has no {claim} claim: set oidc_username_claim.").format(
                         claim=repr(claim)))
    if claim == "email" and claims.get("email_verified") is False:
        return _page(request, settings, next_=next_, status_code=401,
                     error=_("The provider has not verified the address {address}.").format(
                         address=raw))
    identity = await service.get_identity(session, name=raw)
    if identity is None and settings.oidc_default_role:
        await service.save_user(session, name=raw, role=Role(settings.oidc_default_role),
                                actor="oidc")
        identity = await service.get_identity(session, name=raw)
    if identity is None:
        log.warning("OIDC sign-in refused: %s is not a warroom user", raw)
        return _page(request, settings, next_=next_, status_code=403,
                     error=_("{name} is not a warroom user (or is disabled): an admin can add "
                             "it with `{command}`.").format(
                         name=raw, command=f"warroom users add {quote(raw.lower())} --role viewer"))
    return await _start_session(session, settings, identity, via="oidc", next_=next_,
                                detail={"issuer": settings.oidc_issuer})


def install_oidc(app: FastAPI, settings: Settings) -> Any:
    """Return the OpenID Connect client (None without one) and add its sign-in state cookie."""
    if not settings.oidc_enabled:
        return None
    # lazy: cold import cost (python -X importtime): authlib + starlette sessions ~115 ms; kept off
    # the module's import path
    from authlib.deprecate import AuthlibDeprecationWarning
    from starlette.middleware.sessions import SessionMiddleware

    with warnings.catch_warnings():
        # authlib 1.9 announces, on import, a move from httpx to httpx2: nothing to act on
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.starlette_client import OAuth

    oauth = OAuth()
    oauth.register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
    )
    client = oauth.create_client("oidc")
    app.add_middleware(
        SessionMiddleware, secret_key=settings.secret_key or secrets.token_urlsafe(32),
        session_cookie=OIDC_COOKIE, max_age=600, path="/auth/oidc", same_site="lax",
        https_only=True,
    )
    return client
