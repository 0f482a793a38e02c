"""Drive the real app in-process: lifespan (migration, hooks) included, over httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.api.app import create_app
from warroom.config import Settings


@asynccontextmanager
async def app_client(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    configure: Callable[[FastAPI], None] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app (after `configure` adds listeners or hooks) and yield a client bound to it."""
    app = create_app(settings, engine=engine)
    if configure is not None:
        configure(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
            yield client
