"""Users, API tokens and dashboard sessions; every change is written to the audit trail.

Tokens and session cookies are random secrets of 256 bits; only their SHA-256 is stored, so a
copy of the database lets no one in. The caller commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.access import repository
from warroom.access.models import (
    NAME_PATTERN,
    AccessError,
    Identity,
    NewToken,
    Role,
    SignedIn,
    TokenView,
    UserView,
)
from warroom.store import audit
from warroom.store.tables import ApiToken, User, WebSession

TOKEN_PREFIX = "wr_"
_NAME = re.compile(NAME_PATTERN)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def hash_secret(secret: str) -> str:
    """Return the SHA-256 (hex) under which a token or session secret is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_name(name: str) -> str:
    """Return a user name as stored (lower case), or raise `AccessError` saying what is wrong."""
    value = name.strip().lower()
    if not _NAME.match(value):
        raise AccessError(
            f"user name {name!r}: use 1 to 253 letters, digits and . _ @ + - (an e-mail "
            "address works), starting with a letter or digit"
        )
    return value


def _identity(user: User) -> Identity:
    return Identity(name=user.name, role=Role(user.role))


def user_view(user: User) -> UserView:
    """Return what the API shows of a user."""
    return UserView(name=user.name, role=Role(user.role), disabled=user.disabled,
                    created_at=user.created_at, created_by=user.created_by)


def token_view(token: ApiToken) -> TokenView:
    """Return what the API shows of a token: never the token itself."""
    return TokenView(
        id=token.id, name=token.user_name, prefix=token.prefix, description=token.description,
        created_at=token.created_at, created_by=token.created_by,
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        revoked_by=token.revoked_by,
    )


async def get_identity(session: AsyncSession, *, name: str) -> Identity | None:
    """Return the identity of the user called `name`; None when unknown or disabled."""
    try:
        key = normalize_name(name)
    except AccessError:
        return None
    user = await repository.get_user(session, key)
    if user is None or user.disabled:
        return None
    return _identity(user)


async def list_users(session: AsyncSession) -> list[UserView]:
    """Return every user."""
    return [user_view(u) for u in await repository.list_users(session)]


async def save_user(
    session: AsyncSession, *, name: str, role: Role, actor: str, disabled: bool = False,
    now: datetime | None = None,
) -> UserView:
    """Create the user or change its role or state; audited when anything changes."""
    await audit.lock_chain(session)
    key = normalize_name(name)
    user = await repository.get_user(session, key)
    before = None if user is None else {"role": user.role, "disabled": user.disabled}
    if user is None:
        user = User(name=key, role=role.value, disabled=disabled, created_at=_now(now),
                    created_by=actor)
        session.add(user)
    else:
        user.role, user.disabled = role.value, disabled
    after = {"role": role.value, "disabled": disabled}
    if before != after:
        await session.flush()
        await audit.append(session, kind="access.user_saved", actor=actor,
                           payload={"user": key, "before": before, "after": after})
    return user_view(user)


async def create_token(
    session: AsyncSession, *, name: str, role: Role | None, days: int, actor: str,
    description: str = "", now: datetime | None = None,
) -> NewToken:
    """Create an API token for `name` and return it; the token is never readable again.

    `role` creates the user, or changes an existing user's role; without it the user must exist.
    """
    at = _now(now)
    key = normalize_name(name)
    await audit.lock_chain(session)
    user = await repository.get_user(session, key)
    if role is not None:
        await save_user(session, name=key, role=role, actor=actor, now=at)
        user = await repository.get_user(session, key)
    elif user is None:
        raise AccessError(f"no user {key!r}: give a role to create it")
    assert user is not None
    if user.disabled:
        raise AccessError(f"user {key!r} is disabled: enable it before giving it a token")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        id="t_" + secrets.token_hex(6), user_name=key, token_hash=hash_secret(secret),
        prefix=secret[:10], description=description, created_at=at, created_by=actor,
        expires_at=at + timedelta(days=days),
    )
    session.add(row)
    await session.flush()
    await audit.append(session, kind="access.token_created", actor=actor, payload={
        "token_id": row.id, "user": key, "role": user.role, "prefix": row.prefix,
        "expires_at": row.expires_at.isoformat(), "description": description})
    return NewToken(**token_view(row).model_dump(), role=Role(user.role), token=secret)


async def list_tokens(
    session: AsyncSession, *, name: str | None = None, include_revoked: bool = False
) -> list[TokenView]:
    """Return tokens, newest first (never the tokens themselves)."""
    key = None if name is None else normalize_name(name)
    return [token_view(t) for t in
            await repository.list_tokens(session, name=key, include_revoked=include_revoked)]


async def revoke_token(
    session: AsyncSession, *, token_id: str, actor: str, now: datetime | None = None
) -> TokenView:
    """Revoke a token at once; revoking it twice is refused."""
    await audit.lock_chain(session)
    row = await repository.get_token(session, token_id)
    if row is None:
        raise LookupError(f"no token {token_id!r}")
    if row.revoked_at is not None:
        raise AccessError(f"token {token_id} was already revoked by {row.revoked_by}")
    row.revoked_at, row.revoked_by = _now(now), actor
    await session.flush()
    await audit.append(session, kind="access.token_revoked", actor=actor,
                       payload={"token_id": row.id, "user": row.user_name})
    return token_view(row)


async def identify_token(
    session: AsyncSession, secret: str, *, now: datetime | None = None
) -> Identity | None:
    """Return the identity a token stands for; None when unknown, expired or revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 128:
        return None
    user = await repository.active_token(session, hash_secret(secret), _now(now))
    return None if user is None else _identity(user)


async def sign_in(
    session: AsyncSession, identity: Identity, *, via: str, seconds: int,
    detail: dict[str, str] | None = None, now: datetime | None = None,
) -> tuple[str, SignedIn]:
    """Open a dashboard session; return the cookie's secret and what it signs in. Audited."""
    at = _now(now)
    await audit.lock_chain(session)
    await repository.purge_sessions(session, at)
    cookie = secrets.token_urlsafe(32)
    row = WebSession(id_hash=hash_secret(cookie), user_name=identity.name, via=via,
                     csrf=secrets.token_urlsafe(24), created_at=at,
                     expires_at=at + timedelta(seconds=seconds))
    session.add(row)
    await session.flush()
    await audit.append(session, kind="access.login", actor=identity.name,
                       payload={"via": via, "role": identity.role.value,
                                "expires_at": row.expires_at.isoformat(), **(detail or {})})
    return cookie, SignedIn(identity=identity, csrf=row.csrf, expires_at=row.expires_at)


async def session_of(
    session: AsyncSession, cookie: str, *, now: datetime | None = None
) -> SignedIn | None:
    """Return who a session cookie signs in; None when unknown, expired or the user disabled."""
    if not cookie or len(cookie) > 128:
        return None
    found = await repository.signed_in(session, hash_secret(cookie), _now(now))
    if found is None:
        return None
    row, user = found
    return SignedIn(identity=_identity(user), csrf=row.csrf,
                    expires_at=row.expires_at)


async def sign_out(session: AsyncSession, cookie: str) -> None:
    """End a dashboard session (audited); nothing happens for an unknown cookie."""
    await audit.lock_chain(session)
    row = await repository.end_session(session, hash_secret(cookie))
    if row is not None:
        await audit.append(session, kind="access.logout", actor=row.user_name,
                           payload={"via": row.via})
