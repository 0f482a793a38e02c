"""Wire access into the web app: the gate middleware and the admin endpoints.

The sign-in pages are the dashboard's (`web/login.py`).
"""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access import endpoints
from warroom.access.middleware import AccessMiddleware, TokenCache
from warroom.config import Settings


def install(app: FastAPI, settings: Settings, *, sessions: async_sessionmaker[AsyncSession],
            cache: TokenCache) -> None:
    """Add the access routes and put the gate in front of everything, routes added later too."""
    app.include_router(endpoints.router)
    # added last: the outermost layer
    app.add_middleware(AccessMiddleware, settings=settings, sessions=sessions, cache=cache)
