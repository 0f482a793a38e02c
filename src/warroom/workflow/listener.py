"""Start a workflow round when an incident opens or fires again; tell it when it resolves."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.domain.models import ACTIVE_STATES
from warroom.ingest.models import IncidentRef
from warroom.observe.tracing import span
from warroom.workflow import repository
from warroom.workflow.engine import RoundStart, WorkflowClient
from warroom.workflow.incident import incident_workflow_id
from warroom.workflow.steps import act_workflow_id

log = structlog.get_logger(__name__)


# how many workflow ids this process remembers having enqueued (re-enqueueing one is a no-op)
_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one incident's change asks of its workflows."""

    incident_id: str
    round_no: int | None = None  # start this round
    resolved_target: str | None = None  # tell this workflow the incident resolved
    trace_parent: Any = None  # the span of the webhook that brought the change, when traced


def plan(ref: IncidentRef, decisions: list[Any]) -> _Plan:
    """Decide from the incident's round-opening decisions (oldest first) what to start or tell.

    Firing, no decision yet: round 1 (a re-sent alert gets the same id, so DBOS starts nothing
    new). A decision in flight: nothing. The last one completed and the incident still fires: a
    fresh round. Rejected, expired or failed: nothing while it keeps firing, a human has it; but
    once it resolved and fires again it is a new episode, and gets a fresh round too. Resolved:
    the decision waiting for approval hears of it.
    """
    active = next((d for d in reversed(decisions) if d.status in ACTIVE_STATES), None)
    if ref.status == "resolved":
        target = active.workflow_id if active is not None and active.status == "ready" else None
        return _Plan(ref.id, resolved_target=target)
    if active is not None:
        return _Plan(ref.id)
    if not decisions:
        return _Plan(ref.id, round_no=1)
    if decisions[-1].status == "completed" or ref.created:  # ref.created: it re-opened
        return _Plan(ref.id, round_no=len(decisions) + 1)
    return _Plan(ref.id)


async def plan_all(session: AsyncSession, refs: list[IncidentRef]) -> list[_Plan]:
    """Plan every incident of a batch from one query."""
    found: dict[str, list[Any]] = {ref.id: [] for ref in refs}
    for row in await repository.rounds(session, list(found)):
        found[row.incident_id].append(row)
    plans = []
    for ref in refs:
        planned = plan(ref, found[ref.id])
        # only a start carries the webhook's trace (most of a storm's refs start nothing)
        if planned.round_no is not None:
            planned = replace(planned, trace_parent=ref.trace_parent)
        plans.append(planned)
    return plans


class WorkflowListener:
    """The ingestion listener that drives workflows (the composition root's `listeners`)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], client: WorkflowClient
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._enqueued: OrderedDict[str, None] = OrderedDict()

    async def incidents_changed(self, incidents: list[IncidentRef]) -> None:
        """Enqueue or signal the workflow of every incident in the batch; never raise."""
        try:
            async with self._sessions() as session:
                plans = await plan_all(session, incidents)
        except Exception as exc:  # ingestion is committed: log, the next alert retries
            log.error("workflow.listener_failed", incidents=len(incidents), error=str(exc))
            return
        for planned in plans:
            if planned.resolved_target is None:
                continue
            try:
                await self._client.send(
                    act_workflow_id(planned.resolved_target),
                    {"type": "incident", "status": "resolved"},
                )
            except Exception as exc:
                log.error(
                    "workflow.listener_failed", incident_id=planned.incident_id, error=str(exc)
                )
        await self._start(plans)

    async def _start(self, plans: list[_Plan]) -> None:
        """Enqueue the rounds the plans start, all in one transaction, each once."""
        starts: dict[str, RoundStart] = {}
        for planned in plans:
            if planned.round_no is None:
                continue
            workflow_id = incident_workflow_id(planned.incident_id, planned.round_no)
            # a storm's re-sends: DBOS would attach, start nothing
            if workflow_id not in self._enqueued:
                starts[workflow_id] = RoundStart(
                    planned.incident_id, workflow_id, planned.trace_parent
                )
        if not starts:
            return
        try:
            await self._client.enqueue_incidents(list(starts.values()))
        except Exception as exc:
            # all or none: one by one, the others start and the failing one is named
            log.warning("workflow.batch_enqueue_failed", rounds=len(starts), error=str(exc))
            for start in starts.values():
                try:
                    with span("warroom.workflow.enqueue", start.trace_parent,
                              incident_id=start.incident_id, workflow_id=start.workflow_id):
                        await self._client.enqueue_incident(start.incident_id, start.workflow_id)
                except Exception as error:
                    log.error(
                        "workflow.listener_failed", incident_id=start.incident_id, error=str(error)
                    )
                    continue
                self._remember(start.workflow_id)
            return
        for workflow_id in starts:
            self._remember(workflow_id)

    def _remember(self, workflow_id: str) -> None:
        self._enqueued[workflow_id] = None
        if len(self._enqueued) > _REMEMBERED:
            self._enqueued.popitem(last=False)


async def adopt_orphans(
    sessions: async_sessionmaker[AsyncSession], listener: WorkflowListener
) -> list[str]:
    """Start workflows for open incidents that never got one; return their ids.

    A webhook is acknowledged once its signals are committed; the listener hears of it just
    after. A process that dies in between leaves an open incident with no decision: every start
    sweeps them up, so nothing accepted is ever lost. Workflow ids are derived from the
    incident, so adopting one that is already queued starts nothing twice.
    """
    async with sessions() as session:
        rows = await repository.undecided_open_incidents(session)
    refs = [
        IncidentRef(id=row.id, status="open", priority=row.priority,
                    namespace=row.namespace, service=row.service)
        for row in rows
    ]
    if refs:
        log.info("workflow.adopting_orphans", incidents=[r.id for r in refs])
        await listener.incidents_changed(refs)
    return [r.id for r in refs]
