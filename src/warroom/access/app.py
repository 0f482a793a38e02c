"""Wire access into the web app: the gate middleware, sign-in pages, the admin endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access import endpoints, login
from warroom.access.middleware import AccessMiddleware, TokenCache
from warroom.config import Settings


def install(app: FastAPI, settings: Settings, *, sessions: async_sessionmaker[AsyncSession],
            cache: TokenCache) -> Any:
    """Add the access routes and put the gate in front of everything, routes added later too.

    Return the OpenID Connect client (None when single sign-on is not configured).
    """
    app.include_router(endpoints.router)
    app.include_router(login.router)
    oidc = login.install_oidc(app, settings)
    # added last: the outermost layer
    app.add_middleware(AccessMiddleware, settings=settings, sessions=sessions, cache=cache)
    return oidc
