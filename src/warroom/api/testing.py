"""Drive the real app in-process: lifespan (migration, hooks) included, over httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.access import service as access
from warroom.access.models import Role
from warroom.api.app import container_of, create_app
from warroom.config import Settings
from warroom.store.db import transaction

# who the test client is unless a test says otherwise: an admin, so every route is reachable
TEST_USER = "alice"


class AppClient(httpx.AsyncClient):
    """An httpx client bound to the app, signed in as `TEST_USER` unless built otherwise."""

    def __init__(self, app: FastAPI, **kwargs: Any) -> None:
        super().__init__(transport=httpx.ASGITransport(app=app), **kwargs)
        self.app = app

    async def token_for(self, name: str, role: Role = Role.approver, *, days: int = 1) -> str:
        """Create (or re-role) user `name` and return a new API token for it."""
        async with transaction(container_of(self.app).sessions) as session:
            new = await access.create_token(session, name=name, role=role, days=days,
                                            actor="test")
        return new.token

    async def as_user(self, name: str, role: Role = Role.approver) -> dict[str, str]:
        """Return the headers that make one request as `name` with `role`."""
        return {"Authorization": f"Bearer {await self.token_for(name, role)}"}


@asynccontextmanager
async def app_client(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    configure: Callable[[FastAPI], None] | None = None,
    runtime: dict[str, Any] | None = None,
    hooks: bool = True,
    user: str | None = TEST_USER,
    base_url: str = "http://warroom",
) -> AsyncIterator[AppClient]:
    """Start the app (after `configure` adds listeners or hooks) and yield a client bound to it.

    `hooks=False` drops the lifespan hooks other contexts registered (the workflow engine, the
    sandbox) before `configure` runs: tests of ingestion and the API start none of them.
    `runtime` replaces fields of the workflow's `Runtime` (a scripted analyzer).
    The client sends an admin token of `user` on every request; `user=None` sends none.
    """
    app = create_app(settings, engine=engine, runtime_overrides=runtime)
    if not hooks:
        container_of(app).lifespan_hooks.clear()
    if configure is not None:
        configure(app)
    async with app.router.lifespan_context(app), AppClient(app, base_url=base_url) as client:
        if user is not None:
            client.headers["Authorization"] = f"Bearer {await client.token_for(user, Role.admin)}"
        yield client
