"""Who may do what: identities and their roles."""

from __future__ import annotations

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
