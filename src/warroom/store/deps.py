"""Request dependencies as `Annotated` aliases: `DbSession`, `AppSettings`, `Sessions`.

They sit with the store, below every context, so endpoints in any context can use them. The
provider functions here only declare what a handler needs: the composition root
(`api/app.py`) binds each to the app's own object in the app's `dependency_overrides`, so a
handler never looks anything up on the app, and two apps in one process never share one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings


class NotWired(RuntimeError):
    """A dependency the composition root did not bind: a wiring bug, never bad input."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not wired: build the app with warroom.api.app.create_app")


def get_settings() -> Settings:
    """The settings the app was created with."""
    raise NotWired("the settings")


def get_sessions() -> async_sessionmaker[AsyncSession]:
    """The app's session factory."""
    raise NotWired("the session factory")


AppSettings = Annotated[Settings, Depends(get_settings)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


async def get_session(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """Open a session in a transaction that commits when the endpoint returns without error.

    The commit happens before the response is sent, so a client never sees a success for
    something that was not stored.
    """
    async with sessions() as session, session.begin():
        yield session


DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
