"""Who may do what: identities and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Role(StrEnum):
    """What an identity may do; each role includes the ones before it."""

    viewer = "viewer"
    approver = "approver"
    admin = "admin"

    def allows(self, needed: Role) -> bool:
        """Tell whether this role includes `needed`."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


class Identity(BaseModel):
    """An authenticated person or machine: the name recorded on everything it does."""

    name: str = Field(min_length=1, max_length=253)
    role: Role


# the anonymous identity when `auth_enabled` is off (loopback-only use)
LOCAL = Identity(name="local", role=Role.admin)
NAME_PATTERN = r"^[a-z0-9][a-z0-9._@+-]{0,252}$"


class AccessError(ValueError):
    """A request about users or tokens that cannot be carried out (the message says why)."""


class UserView(BaseModel):
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    created_by: str


class UserUpdate(BaseModel):
    """`PUT /api/v1/users/{name}`: create the user or change its role or state."""

    role: Role
    disabled: bool = False


class TokenCreate(BaseModel):
    """`POST /api/v1/tokens`: a token for `name`; `role` creates the user or changes its role."""

    name: str = Field(min_length=1, max_length=253)
    role: Role | None = None
    days: int | None = Field(default=None, gt=0, le=3650)
    description: str = Field(default="", max_length=253)


class TokenView(BaseModel):
    """An API token as listed: never the token itself."""

    id: str
    name: str
    prefix: str
    description: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None


class NewToken(TokenView):
    """A token just created: `token` is shown this once and stored only as a hash."""

    role: Role
    token: str


class SignedIn(BaseModel):
    """Who a dashboard session belongs to, and its forms' anti-forgery token."""

    identity: Identity
    csrf: str
    expires_at: datetime
