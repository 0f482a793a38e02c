"""Decision types: the state machine, approval requests and what the API shows of a decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from warroom.domain.models import ReadyPackage

# every legal move of the state machine; anything else is a bug or a race and is refused
TRANSITIONS: dict[str, frozenset[str]] = {
    "analyzing": frozenset({"ready", "failed"}),
    # a ready decision with nothing executable (escalate, no_action) completes at once
    "ready": frozenset({"approved", "rejected", "expired", "completed"}),
    "approved": frozenset({"executing", "failed"}),
    "executing": frozenset({"verifying", "failed"}),
    "verifying": frozenset({"completed", "failed"}),
    "rejected": frozenset(),
    "expired": frozenset(),
    "completed": frozenset(),
    "failed": frozenset(),
}

Verdict = Literal["approve", "reject"]
Via = Literal["api", "cli", "web", "policy", "chat"]


class InvalidTransition(ValueError):
    """A decision was asked to move to a state its current state cannot reach."""


class DecisionNotFound(LookupError):
    """No decision has this token."""


class ApprovalRefused(ValueError):
    """The approval cannot be recorded (wrong state, same approver twice)."""


class ApprovalForbidden(ApprovalRefused):
    """The identity may not answer decisions: it lacks the approver role."""


class ApprovalRequest(BaseModel):
    """What `POST /api/v1/decisions/{token}/approve|reject` accepts.

    There is no approver field: the approver of record is the authenticated identity. A body
    that still names one (an older client) has that name ignored.
    """

    comment: str = Field(default="", max_length=10_000)
    via: Via = "api"


class ApprovalView(BaseModel):
    approver: str
    verdict: Verdict
    comment: str
    via: str
    at: datetime


class ExecutionView(BaseModel):
    """One executor call actually made (or being made): the exact request and its result."""

    idempotency_key: str
    executor: str
    status: str
    action: dict[str, Any]
    request: dict[str, Any] | None
    kubectl: str
    pre_state: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class VerificationView(BaseModel):
    verdict: str
    score: float
    details: dict[str, Any]
    at: datetime


class DecisionView(BaseModel):
    """`GET /api/v1/decisions/{token}`."""

    token: str
    incident_id: str
    status: str
    package: ReadyPackage | None
    fault: str | None
    action_type: str | None
    requires_approvals: int
    auto_execute: bool
    parent_token: str | None
    workflow_id: str | None
    created_at: datetime
    updated_at: datetime
    ready_at: datetime | None
    expires_at: datetime | None
    approvals: list[ApprovalView] = []
    executions: list[ExecutionView] = []
    verifications: list[VerificationView] = []
