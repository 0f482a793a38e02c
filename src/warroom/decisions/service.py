"""The decision state machine, approvals and the views the API shows. The caller commits."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.access.models import Identity, Role
from warroom.config import Settings
from warroom.decisions import repository
from warroom.decisions.models import (
    TRANSITIONS,
    ApprovalForbidden,
    ApprovalRefused,
    ApprovalRequest,
    ApprovalView,
    DecisionNotFound,
    DecisionView,
    ExecutionView,
    InvalidTransition,
    Verdict,
    VerificationView,
)
from warroom.domain.models import DebateExtras, DecisionPackage, PolicyVerdict, ReadyPackage
from warroom.observe.metrics import DECISION_TRANSITIONS, who
from warroom.store import audit, outbox
from warroom.store.tables import Approval, Decision

ApprovalState = Literal["approved", "rejected", "pending"]


def new_token() -> str:
    """Return a fresh, unguessable decision token."""
    return "d_" + secrets.token_urlsafe(12)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def open_decision(
    session: AsyncSession,
    *,
    incident_id: str,
    workflow_id: str,
    now: datetime | None = None,
    parent_token: str | None = None,
) -> tuple[Decision, bool]:
    """Return the decision in flight for the incident, or open one; True when it is new.

    Idempotent per workflow: a step re-run after a crash finds the decision it opened.
    """
    existing = await repository.by_workflow(session, workflow_id)
    if existing is None and parent_token is None:
        existing = await repository.active_for_incident(session, incident_id)
    if existing is not None:
        return existing, False
    at = _now(now)
    decision = Decision(
        token=new_token(),
        incident_id=incident_id,
        status="analyzing",
        parent_token=parent_token,
        workflow_id=workflow_id,
        created_at=at,
        updated_at=at,
    )
    session.add(decision)
    await session.flush()
    await audit.append(
        session,
        kind="decision.opened",
        payload={"workflow_id": workflow_id, "parent_token": parent_token},
        incident_id=incident_id,
        decision_token=decision.token,
    )
    return decision, True


async def transition(
    session: AsyncSession,
    decision: Decision,
    to: str,
    *,
    actor: str = "warroom",
    payload: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Decision:
    """Move a decision along the state machine and write the move to the audit trail."""
    if to not in TRANSITIONS.get(decision.status, frozenset()):
        raise InvalidTransition(
            f"decision {decision.token}: cannot go from {decision.status!r} to {to!r}"
        )
    previous = decision.status
    decision.status = to
    decision.updated_at = _now(now)
    await session.flush()
    DECISION_TRANSITIONS.labels(to, who(actor)).inc()
    await audit.append(
        session,
        kind=f"decision.{to}",
        payload={"from": previous, **(payload or {})},
        actor=actor,
        incident_id=decision.incident_id,
        decision_token=decision.token,
    )
    await outbox.record(session, decision_token=decision.token,
                        incident_id=decision.incident_id, event=to, payload=payload)
    return decision


async def mark_ready(
    session: AsyncSession,
    decision: Decision,
    package: DecisionPackage,
    *,
    policy: PolicyVerdict,
    settings: Settings,
    extras: DebateExtras | None = None,
    now: datetime | None = None,
) -> Decision:
    """Store the package and the policy's verdict, and open the approval window."""
    at = _now(now)
    decision.package = ReadyPackage.of(package, policy=policy, extras=extras)
    decision.fault = package.fault
    decision.action_type = package.action.type if package.action else None
    decision.requires_approvals = policy.requires_approvals
    decision.ready_at = at
    decision.expires_at = at + timedelta(seconds=settings.approval_timeout_seconds)
    return await transition(
        session,
        decision,
        "ready",
        payload={
            "package_status": package.status,
            "action": package.action.model_dump(mode="json") if package.action else None,
            "risk": package.risk,
            "requires_human_approval": package.requires_human_approval,
            "auto_execute": policy.auto_execute,
            "requires_approvals": policy.requires_approvals,
            "policy_reasons": policy.reasons,
            "summary": package.summary,
        },
        now=at,
    )


def ready_package(decision: Decision) -> ReadyPackage:
    """Return the package a ready (or later) decision stores; say so when it has none."""
    if decision.package is None:
        raise ValueError(
            f"decision {decision.token} is {decision.status} and has no package yet"
        )
    return decision.package


async def record_approval(
    session: AsyncSession,
    token: str,
    request: ApprovalRequest,
    verdict: Verdict,
    *,
    approver: Identity,
    now: datetime | None = None,
) -> tuple[Decision, Approval]:
    """Record one identity's approval or rejection of a ready decision, with who and when.

    The critical two-approver rule counts distinct identities: one identity answers once.
    """
    if not approver.role.allows(Role.approver):
        raise ApprovalForbidden(
            f"{approver.name} has the {approver.role.value} role: answering a decision needs "
            "the approver role"
        )
    decision = await repository.get(session, token, for_update=True)
    if decision is None:
        raise DecisionNotFound(f"no decision with token {token!r}")
    if decision.status != "ready":
        raise ApprovalRefused(
            f"decision {token} is {decision.status}, only a ready decision can be "
            f"{'approved' if verdict == 'approve' else 'rejected'}"
        )
    previous = await repository.approvals(session, token)
    if any(a.approver == approver.name for a in previous):
        raise ApprovalRefused(f"approver {approver.name!r} already answered decision {token}")
    at = _now(now)
    approval = Approval(
        decision_token=token,
        approver=approver.name,
        verdict=verdict,
        comment=request.comment,
        via=request.via,
        at=at,
    )
    session.add(approval)
    await session.flush()
    await audit.append(
        session,
        kind="decision.approval" if verdict == "approve" else "decision.rejection",
        payload={
            "verdict": verdict,
            "comment": request.comment,
            "via": request.via,
            "at": at.isoformat(),
            "approvals_needed": decision.requires_approvals,
            "role": approver.role.value,
        },
        actor=approver.name,
        incident_id=decision.incident_id,
        decision_token=token,
    )
    await outbox.record(session, decision_token=token, incident_id=decision.incident_id,
                        event="approval", payload={"verdict": verdict})
    return decision, approval


async def approval_state(session: AsyncSession, decision: Decision) -> ApprovalState:
    """Tell whether the recorded answers approve, reject, or still wait on the decision."""
    answers = await repository.approvals(session, decision.token)
    if any(a.verdict == "reject" for a in answers):
        return "rejected"
    approvers = {a.approver for a in answers if a.verdict == "approve"}
    return "approved" if len(approvers) >= decision.requires_approvals else "pending"


async def get_view(session: AsyncSession, token: str) -> DecisionView:
    """Return a decision with its approvals, executor calls and verifications."""
    decision = await repository.get(session, token)
    if decision is None:
        raise DecisionNotFound(f"no decision with token {token!r}")
    return DecisionView(
        token=decision.token,
        incident_id=decision.incident_id,
        status=decision.status,
        package=decision.package,
        fault=decision.fault,
        action_type=decision.action_type,
        requires_approvals=decision.requires_approvals,
        auto_execute=decision.package is not None and decision.package.policy.auto_execute,
        parent_token=decision.parent_token,
        workflow_id=decision.workflow_id,
        created_at=decision.created_at,
        updated_at=decision.updated_at,
        ready_at=decision.ready_at,
        expires_at=decision.expires_at,
        approvals=[
            ApprovalView(
                approver=a.approver, verdict=a.verdict,
                comment=a.comment, via=a.via, at=a.at,
            )
            for a in await repository.approvals(session, token)
        ],
        executions=[
            ExecutionView(
                idempotency_key=e.idempotency_key, executor=e.executor, status=e.status,
                action=e.action, request=e.request, kubectl=e.kubectl, pre_state=e.pre_state,
                result=e.result, error=e.error, started_at=e.started_at,
                finished_at=e.finished_at,
            )
            for e in await repository.executions(session, token)
        ],
        verifications=[
            VerificationView(verdict=v.verdict, score=v.score, details=v.details, at=v.at)
            for v in await repository.verifications(session, token)
        ],
    )
