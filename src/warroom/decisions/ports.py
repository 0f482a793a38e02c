"""What the decisions context needs from outside: telling a waiting workflow of an answer."""

from __future__ import annotations

from typing import Protocol

from warroom.decisions.models import Verdict


class ApprovalWaker(Protocol):
    """Wakes the workflow that waits for a human's answer on a decision."""

    async def answered(
        self, workflow_id: str, *, verdict: Verdict, approver: str, approval_id: int
    ) -> None:
        """Tell the workflow `workflow_id` that `approver` answered `verdict`."""
