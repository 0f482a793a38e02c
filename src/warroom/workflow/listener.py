"""Start a workflow round when an incident opens or fires again; tell it when it resolves."""

from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.decisions import repository
from warroom.ingest.models import IncidentRef
from warroom.store.tables import Decision, Incident
from warroom.workflow.engine import WorkflowClient
from warroom.workflow.incident import incident_workflow_id
from warroom.workflow.steps import act_workflow_id

log = structlog.get_logger(__name__)


async def next_round(session: AsyncSession, incident_id: str) -> int | None:
    """Return the round to run for an incident that fired, or None when one is in flight.

    No decision yet: round 1 (a re-sent alert gets the same id, so DBOS starts nothing new).
    A decision in flight: nothing. The last one completed and the incident still fires: a
    fresh round. Rejected, expired or failed: nothing, a human has it.
    """
    if await repository.active_for_incident(session, incident_id) is not None:
        return None
    rounds = await repository.count_rounds(session, incident_id)
    if rounds == 0:
        return 1
    latest = [d for d in await repository.for_incident(session, incident_id)
              if d.parent_token is None][-1]
    return rounds + 1 if latest.status == "completed" else None


class WorkflowListener:
    """The ingestion listener that drives workflows (`app.state.listeners`)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], client: WorkflowClient
    ) -> None:
        self._sessions = sessions
        self._client = client

    async def incidents_changed(self, incidents: list[IncidentRef]) -> None:
        """Enqueue or signal the workflow of every incident in the batch; never raise."""
        for ref in incidents:
            try:
                await self._one(ref)
            except Exception as exc:  # ingestion is committed: log, the next alert retries
                log.error("workflow.listener_failed", incident_id=ref.id, error=str(exc))

    async def _one(self, ref: IncidentRef) -> None:
        async with self._sessions() as session:
            if ref.status == "resolved":
                active = await repository.active_for_incident(session, ref.id)
                target = active.workflow_id if active is not None and active.status == "ready" \
                    else None
                round_no = None
            else:
                target = None
                round_no = await next_round(session, ref.id)
        if target is not None:
            await self._client.send(
                act_workflow_id(target), {"type": "incident", "status": "resolved"}
            )
        if round_no is not None:
            await self._client.enqueue_incident(ref.id, incident_workflow_id(ref.id, round_no))


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
        rows = (await session.execute(
            select(Incident)
            .where(Incident.status == "open")
            .where(~select(Decision.token).where(Decision.incident_id == Incident.id).exists())
            .order_by(Incident.opened_at)
        )).scalars().all()
    refs = [
        IncidentRef(id=row.id, status="open", priority=row.priority,
                    namespace=row.namespace, service=row.service)
        for row in rows
    ]
    if refs:
        log.info("workflow.adopting_orphans", incidents=[r.id for r in refs])
        await listener.incidents_changed(refs)
    return [r.id for r in refs]
