"""Request dependencies as `Annotated` aliases: `DbSession`, `AppSettings`, `Sessions`.

They sit with the store, below every context, so endpoints in any context can use them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings


def get_settings(request: Request) -> Settings:
    """Return the settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    """Return the app's session factory."""
    sessions: async_sessionmaker[AsyncSession] = request.app.state.sessions
    return sessions


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Open a session in a transaction that commits when the endpoint returns without error.

    The commit happens before the response is sent, so a client never sees a success for
    something that was not stored.
    """
    async with get_sessions(request)() as session, session.begin():
        yield session


AppSettings = Annotated[Settings, Depends(get_settings)]
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]
