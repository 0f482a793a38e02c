"""The executor port: a catalogue action in, the exact API calls made (or that would be) out."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import BaseModel

from warroom.domain.models import Action, ApiCall


class ExecutionOutcome(BaseModel):
    status: Literal["succeeded", "failed", "refused", "dry_run_ok", "recorded"]
    calls: list[ApiCall] = []
    pre_state: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


class Executor(Protocol):
    """Turns catalogue actions into API calls. Hard rules are re-checked by the caller first."""

    name: str

    async def capture_state(self, action: Action) -> dict[str, Any]:
        """Read the state the action will change, for verification and rollback."""
        ...

    async def dry_run(self, action: Action, *,
                      state: dict[str, Any] | None = None) -> ExecutionOutcome:
        """Send the calls with dryRun=All (server-side), changing nothing.

        `state` is the pre-state the caller just captured (read again only when None).
        """
        ...

    async def execute(self, action: Action) -> ExecutionOutcome:
        """Make the calls for real (or, in shadow mode, record them and change nothing)."""
        ...
