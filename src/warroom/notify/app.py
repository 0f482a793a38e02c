"""Wire the notify context into the web app: chat callbacks and the outbox sender."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from warroom.notify.ports import ChatAdapter, IdentityDirectory


def install(app: FastAPI, *, directory: IdentityDirectory | None = None,
            adapters: dict[str, ChatAdapter] | None = None) -> None:
    """Add the chat callback routes and run the outbox sender while the app serves.

    `directory` tells who a mapped chat user is and what role they hold. The access context's
    user store is wired here (`api/app.py` passes it); with none, every chat click is refused
    and said so in the thread, and cards are still delivered.
    """
    from warroom.notify.endpoints import router
    from warroom.notify.hub import NotifyHub

    hub = NotifyHub(app.state.settings, app.state.sessions, directory=directory,
                    adapters=adapters)
    existing = getattr(app.state, "notify", None)
    app.state.notify = hub
    if existing is not None:  # installed again (tests): replace the hub, keep the routes
        return
    app.include_router(router)

    @asynccontextmanager
    async def notify_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with app.state.notify.running():
            yield

    app.state.lifespan_hooks.append(notify_lifespan)
