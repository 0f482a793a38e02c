"""Wire access into the web app: the gate middleware, sign-in pages, the admin endpoints."""

from __future__ import annotations

from fastapi import FastAPI

from warroom.access import endpoints, login
from warroom.access.middleware import AccessMiddleware, TokenCache
from warroom.config import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """Add the access routes and put the gate in front of everything, routes added later too."""
    app.state.token_cache = TokenCache(settings.auth_cache_seconds)
    app.include_router(endpoints.router)
    app.include_router(login.router)
    login.install_oidc(app, settings)
    app.add_middleware(AccessMiddleware)  # added last: the outermost layer
