"""SQL of the access context: users, API tokens (by hash) and dashboard sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.tables import ApiToken, User, WebSession


async def get_user(session: AsyncSession, name: str) -> User | None:
    """Return the user called `name` (already normalised), or None."""
    return await session.get(User, name)


async def list_users(session: AsyncSession) -> list[User]:
    """Return every user, by name."""
    return list((await session.execute(select(User).order_by(User.name))).scalars())


async def active_token(session: AsyncSession, token_hash: str, now: datetime) -> User | None:
    """Return the enabled user owning an unrevoked, unexpired token with this hash."""
    statement = (
        select(User)
        .join(ApiToken, ApiToken.user_name == User.name)
        .where(
            ApiToken.token_hash == token_hash,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
            User.disabled.is_(False),
        )
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def get_token(session: AsyncSession, token_id: str) -> ApiToken | None:
    """Return the token row with this id, or None."""
    return await session.get(ApiToken, token_id)


async def list_tokens(
    session: AsyncSession, *, name: str | None, include_revoked: bool
) -> list[ApiToken]:
    """Return tokens, newest first, optionally of one user and with the revoked ones."""
    statement = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
    if name is not None:
        statement = statement.where(ApiToken.user_name == name)
    if not include_revoked:
        statement = statement.where(ApiToken.revoked_at.is_(None))
    return list((await session.execute(statement)).scalars())


async def signed_in(
    session: AsyncSession, id_hash: str, now: datetime
) -> tuple[WebSession, User] | None:
    """Return the unexpired session with this hash and its enabled user, or None."""
    statement = (
        select(WebSession, User)
        .join(User, User.name == WebSession.user_name)
        .where(
            WebSession.id_hash == id_hash,
            WebSession.expires_at > now,
            User.disabled.is_(False),
        )
    )
    row = (await session.execute(statement)).first()
    return None if row is None else (row[0], row[1])


async def end_session(session: AsyncSession, id_hash: str) -> WebSession | None:
    """Delete the session with this hash; return it as it was, or None."""
    found = await session.get(WebSession, id_hash)
    if found is not None:
        await session.delete(found)
        await session.flush()
    return found


async def purge_sessions(session: AsyncSession, now: datetime) -> None:
    """Delete the sessions that have expired."""
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
