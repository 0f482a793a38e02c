"""Decision API: read a decision, approve or reject it (the waiting workflow is told at once)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request

from warroom.api.deps import DbSession, Sessions
from warroom.decisions import service
from warroom.decisions.models import (
    ApprovalRefused,
    ApprovalRequest,
    DecisionNotFound,
    DecisionView,
)
from warroom.store import audit
from warroom.store.db import transaction

router = APIRouter(prefix="/api/v1/decisions", tags=["decisions"])


@router.get("/{token}")
async def get_decision(token: str, session: DbSession) -> DecisionView:
    """Return the decision with its status, approvals and the executor calls made."""
    try:
        return await service.get_view(session, token)
    except DecisionNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


async def _answer(
    request: Request,
    sessions: Sessions,
    token: str,
    body: ApprovalRequest,
    verdict: Literal["approve", "reject"],
) -> DecisionView:
    try:
        async with transaction(sessions) as session:
            await audit.lock_chain(session)
            decision, approval = await service.record_approval(session, token, body, verdict)
            workflow_id = decision.workflow_id
    except DecisionNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except ApprovalRefused as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc
    # only after the commit: the workflow reads the approvals when it wakes
    client = getattr(request.app.state, "workflow_client", None)
    if client is not None and workflow_id:
        from warroom.workflow.steps import act_workflow_id

        await client.send(
            act_workflow_id(workflow_id),
            {"type": "approval", "verdict": verdict, "approver": approval.approver},
            idempotency_key=f"approval:{approval.id}",
        )
    async with sessions() as session:
        return await service.get_view(session, token)


@router.post("/{token}/approve")
async def approve(
    token: str, body: ApprovalRequest, request: Request, sessions: Sessions
) -> DecisionView:
    """Approve a ready decision as `approver`; critical risk waits for a second person."""
    return await _answer(request, sessions, token, body, "approve")


@router.post("/{token}/reject")
async def reject(
    token: str, body: ApprovalRequest, request: Request, sessions: Sessions
) -> DecisionView:
    """Reject a ready decision as `approver`; it will never execute."""
    return await _answer(request, sessions, token, body, "reject")
