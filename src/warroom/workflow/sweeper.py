"""Hand to a human every decision whose workflow failed for good.

A step rides out transient trouble for 63.5 s (`incident.STEP_ATTEMPTS`); past that (a database
outage longer than that), or on an error no retry mends, DBOS marks its workflow ERROR and runs
it no more. Its decision would wait in `analyzing`, `ready`, `approved`, `executing` or
`verifying` for ever, which the listener reads as in flight, and an incident whose first round
failed before opening its decision would have none, which re-enqueueing the same workflow id
does not mend: nobody would hear of either. The sweep, run when the app starts and every
`workflow_sweep_seconds` after, ends them: the decision `failed` (a ready one `expired`, the
only end it has without an answer), its reason the workflow's error, in the audit trail and the
outbox, so the chat and web notifications tell the people on call; an incident with no decision
gets one, failed at once. A workflow still queued or running is left alone, and two sweeps
never end one decision twice (the move is made under the decision's row lock).
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.decisions import repository as decisions
from warroom.decisions.service import open_decision, transition
from warroom.store.db import transaction
from warroom.workflow import repository
from warroom.workflow.engine import WorkflowClient
from warroom.workflow.incident import incident_workflow_id
from warroom.workflow.steps import act_workflow_id

log = structlog.get_logger(__name__)


async def sweep_failed(sessions: async_sessionmaker[AsyncSession],
                       client: WorkflowClient) -> list[str]:
    """End the decisions (and open one for each undecided incident) whose workflow failed for
    good; return their tokens."""
    async with sessions() as session:
        # `analyzing` is the incident's round deciding; after it, the decision's own workflow;
        # a decision opened by no workflow (recorded by hand) has nothing to watch
        carriers = {d.token: (d.status, d.workflow_id if d.status == "analyzing"
                              else act_workflow_id(d.workflow_id))
                    for d in await decisions.unfinished(session) if d.workflow_id is not None}
        rounds = {i.id: incident_workflow_id(i.id, 1)
                  for i in await repository.undecided_open_incidents(session)}
    failed = await client.failures([*(c for _, c in carriers.values()), *rounds.values()])
    ended: list[str] = []
    for token, (status, carrier) in carriers.items():
        if (error := failed.get(carrier)) is None:
            continue
        async with transaction(sessions) as session:
            decision = await decisions.get(session, token, for_update=True)
            if decision is None or decision.status != status:
                continue  # it moved on meanwhile: another sweep, or the workflow after all
            await transition(session, decision, "expired" if status == "ready" else "failed",
                             payload=_why(carrier, error))
        ended.append(token)
    for incident_id, round_one in rounds.items():
        if (error := failed.get(round_one)) is None:
            continue
        async with transaction(sessions) as session:
            decision, _ = await open_decision(session, incident_id=incident_id,
                                              workflow_id=round_one)
            if decision.status != "analyzing":
                continue
            await transition(session, decision, "failed", payload=_why(round_one, error))
        ended.append(decision.token)
    if ended:
        log.warning("workflow.failed_handed_to_humans", decisions=ended)
    return ended


def _why(workflow_id: str, error: str) -> dict[str, str]:
    return {"reason": f"its workflow {workflow_id} failed for good ({error}): a human has it",
            "workflow_id": workflow_id}


async def sweep_every(sessions: async_sessionmaker[AsyncSession], client: WorkflowClient,
                      seconds: float) -> None:
    """Sweep every `seconds` until cancelled; a sweep that fails is tried again next time."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await sweep_failed(sessions, client)
        except Exception as exc:  # the database may be away: the next sweep tries again
            log.warning("workflow.sweep_failed", error=str(exc))
