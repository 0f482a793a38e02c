"""Request dependencies: `CurrentIdentity`, and role checks (`Approver`, `Admin`, `require`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from warroom.access.models import Identity, Role


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
