"""Request dependencies: `CurrentIdentity`, role checks (`Approver`, `Admin`, `require`), and
the token cache and sign-on client the composition root binds (`Tokens`, `OidcClient`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from warroom.access.middleware import TokenCache
from warroom.access.models import Identity, Role
from warroom.store.deps import NotWired


def current_identity(request: Request) -> Identity:
    """Return who is asking, as the access middleware established it (401 when no one)."""
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is None:
        raise HTTPException(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    return identity


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


def require(role: Role) -> Callable[[Identity], Identity]:
    """Return a dependency that refuses (403) an identity without `role`."""

    def check(identity: CurrentIdentity) -> Identity:
        if not identity.role.allows(role):
            raise HTTPException(
                403, f"{identity.name} has the {identity.role.value} role; this needs "
                f"{role.value} (an admin can change it: `warroom users add "
                f"{identity.name} --role {role.value}`)",
            )
        return identity

    check.__name__ = f"require_{role.value}"
    return check


Approver = Annotated[Identity, Depends(require(Role.approver))]
Admin = Annotated[Identity, Depends(require(Role.admin))]


def get_token_cache() -> TokenCache:
    """This app's verified tokens (the middleware's cache); the composition root binds it."""
    raise NotWired("the token cache")


def get_oidc() -> Any:
    """The OpenID Connect client (authlib's), None without single sign-on; bound by the root."""
    raise NotWired("the OpenID Connect client")


Tokens = Annotated[TokenCache, Depends(get_token_cache)]
OidcClient = Annotated[Any, Depends(get_oidc)]
