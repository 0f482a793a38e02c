"""Access API: who am I; users and API tokens (admin only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from warroom.access import service
from warroom.access.deps import Admin, CurrentIdentity, Tokens
from warroom.access.middleware import TokenCache
from warroom.access.models import (
    AccessError,
    Identity,
    NewToken,
    TokenCreate,
    TokenView,
    UserUpdate,
    UserView,
)
from warroom.store.deps import AppSettings, DbSession

router = APIRouter(prefix="/api/v1", tags=["access"])


def _forget_tokens(cache: TokenCache) -> None:
    """Drop this process's verified tokens, so a revocation or role change applies at once."""
    cache.clear()


@router.get("/me", summary="Who the caller is")
async def me(identity: CurrentIdentity) -> Identity:
    """Return the caller's identity: the name recorded on everything it does, and its role."""
    return identity


@router.get("/users", summary="List users (admin)")
async def list_users(session: DbSession, _: Admin) -> list[UserView]:
    """Return every user with its role."""
    return await service.list_users(session)


@router.put("/users/{name}", summary="Create a user or change its role (admin)")
async def save_user(
    name: Annotated[str, Path(max_length=253)], body: UserUpdate, tokens: Tokens,
    session: DbSession, admin: Admin,
) -> UserView:
    """Create the user, or change its role or disable it; audited."""
    try:
        saved = await service.save_user(session, name=name, role=body.role,
                                        disabled=body.disabled, actor=admin.name)
    except AccessError as exc:
        raise HTTPException(422, str(exc)) from exc
    _forget_tokens(tokens)
    return saved


@router.post("/tokens", status_code=201, summary="Create an API token (admin)")
async def create_token(
    body: TokenCreate, session: DbSession, settings: AppSettings, admin: Admin
) -> NewToken:
    """Create a token; the response is the only time the token itself is shown."""
    try:
        return await service.create_token(
            session, name=body.name, role=body.role, days=body.days or settings.token_days,
            description=body.description, actor=admin.name,
        )
    except AccessError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/tokens", summary="List API tokens (admin)")
async def list_tokens(
    session: DbSession, _: Admin, name: str | None = None, revoked: bool = False
) -> list[TokenView]:
    """Return tokens (never the tokens themselves), of one user with `name`."""
    try:
        return await service.list_tokens(session, name=name, include_revoked=revoked)
    except AccessError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.delete("/tokens/{token_id}", summary="Revoke an API token (admin)")
async def revoke_token(
    token_id: Annotated[str, Path(max_length=32)], tokens: Tokens, session: DbSession,
    admin: Admin,
) -> TokenView:
    """Revoke a token: it stops working at once in this process, within seconds elsewhere."""
    try:
        revoked = await service.revoke_token(session, token_id=token_id, actor=admin.name)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    except AccessError as exc:
        raise HTTPException(409, str(exc)) from exc
    _forget_tokens(tokens)
    return revoked
