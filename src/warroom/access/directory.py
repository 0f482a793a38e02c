"""The access context's users, as other contexts ask for them (notify's `IdentityDirectory`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access import service
from warroom.access.models import Identity


class UserDirectory:
    """Looks a warroom user up by name, each time afresh (a disabled user is refused at once)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, name: str) -> Identity | None:
        """Return the identity named `name`, or None when unknown or disabled."""
        async with self._sessions() as session:
            return await service.get_identity(session, name=name)
