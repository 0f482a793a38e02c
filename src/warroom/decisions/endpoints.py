"""Decision API: read a decision, approve or reject it (the waiting workflow is told at once)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException

from warroom.access.deps import Approver
from warroom.access.models import Identity
from warroom.decisions import service
from warroom.decisions.approvals import answer_decision
from warroom.decisions.models import (
    ApprovalForbidden,
    ApprovalRefused,
    ApprovalRequest,
    DecisionNotFound,
    DecisionView,
)
from warroom.decisions.ports import ApprovalWaker
from warroom.store.deps import DbSession, NotWired, Sessions

router = APIRouter(prefix="/api/v1/decisions", tags=["decisions"])


@router.get("/{token}")
async def get_decision(token: str, session: DbSession) -> DecisionView:
    """Return the decision with its status, approvals and the executor calls made."""
    try:
        return await service.get_view(session, token)
    except DecisionNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


def get_waker() -> ApprovalWaker | None:
    """What wakes the waiting workflow (None until the workflow client has started).

    The composition root binds it."""
    raise NotWired("the approval waker")


Waker = Annotated[ApprovalWaker | None, Depends(get_waker)]


async def _answer(
    waker: ApprovalWaker | None,
    sessions: Sessions,
    token: str,
    body: ApprovalRequest,
    verdict: Literal["approve", "reject"],
    approver: Identity,
) -> DecisionView:
    try:
        return await answer_decision(
            sessions, token, body, verdict, approver=approver, waker=waker
        )
    except DecisionNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except ApprovalForbidden as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    except ApprovalRefused as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from exc


@router.post("/{token}/approve")
async def approve(
    token: str, body: ApprovalRequest, waker: Waker, sessions: Sessions, who: Approver
) -> DecisionView:
    """Approve a ready decision as the caller; critical risk waits for a second person."""
    return await _answer(waker, sessions, token, body, "approve", who)


@router.post("/{token}/reject")
async def reject(
    token: str, body: ApprovalRequest, waker: Waker, sessions: Sessions, who: Approver
) -> DecisionView:
    """Reject a ready decision as the caller; it will never execute."""
    return await _answer(waker, sessions, token, body, "reject", who)
