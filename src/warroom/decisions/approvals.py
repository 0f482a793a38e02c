"""Answering a decision, whoever asks: the API, the dashboard, a chat button."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access.models import Identity
from warroom.decisions import service
from warroom.decisions.models import ApprovalRequest, DecisionView, Verdict
from warroom.decisions.ports import ApprovalWaker
from warroom.store import audit
from warroom.store.db import transaction


async def answer_decision(
    sessions: async_sessionmaker[AsyncSession],
    token: str,
    request: ApprovalRequest,
    verdict: Verdict,
    *,
    approver: Identity,
    waker: ApprovalWaker | None,
) -> DecisionView:
    """Record `approver`'s answer, commit it, then wake the waiting workflow; return the decision.

    `approver` is the authenticated identity, the approver of record: never a name taken from
    a request body. Raises `DecisionNotFound` and `ApprovalRefused` (wrong state, same identity
    twice), and its subclass `ApprovalForbidden` (an identity without the approver role).
    """
    async with transaction(sessions) as session:
        await audit.lock_chain(session)
        decision, approval = await service.record_approval(
            session, token, request, verdict, approver=approver
        )
        workflow_id = decision.workflow_id
    # only after the commit: the workflow reads the approvals when it wakes
    if waker is not None and workflow_id:
        await waker.answered(
            workflow_id, verdict=verdict, approver=approval.approver, approval_id=approval.id
        )
    async with sessions() as session:
        return await service.get_view(session, token)
