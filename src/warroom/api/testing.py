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
    hooks: bool = True,
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app (after `configure` adds listeners or hooks) and yield a client bound to it.

    `hooks=False` drops the lifespan hooks other contexts registered (the workflow engine, the
    sandbox) before `configure` runs: tests of ingestion and the API start none of them.
    """
    app = create_app(settings, engine=engine)
    if not hooks:
        app.state.lifespan_hooks.clear()
    if configure is not None:
        configure(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://warroom") as client:
            yield client
