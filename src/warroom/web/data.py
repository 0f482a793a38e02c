"""What the pages show, read through the other contexts' repositories and services."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.decisions import repository as decision_rows
from warroom.decisions import service as decisions
from warroom.decisions.models import DecisionNotFound, DecisionView
from warroom.domain.models import Challenge, DecisionPackage, FollowUp, Hypothesis, ReadyPackage
from warroom.ingest import repository as incidents
from warroom.ingest.details import DetailProvider, incident_details
from warroom.ingest.models import IncidentView, SignalView
from warroom.learn import service as learn
from warroom.store import audit
from warroom.store.tables import AuditEvent, Decision, Incident

log = logging.getLogger(__name__)
PRIORITY_ORDER = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
OPEN_LIMIT = 200
RESOLVED_LIMIT = 50


@dataclass
class Row:
    """One incident line of the dashboard, with its newest decision (if any)."""

    incident: IncidentView
    decision: Decision | None


@dataclass
class Dashboard:
    open: list[Row]
    resolved: list[Row]
    open_total: int
    resolved_total: int


def _rows(items: Sequence[Incident], decisions_by_id: dict[str, Decision]) -> list[Row]:
    return [Row(IncidentView.model_validate(i), decisions_by_id.get(i.id)) for i in items]


async def dashboard(session: AsyncSession) -> Dashboard:
    """Return open incidents (most urgent first) and the latest resolved ones."""
    open_items, open_total = await incidents.list_incidents(
        session, status="open", limit=OPEN_LIMIT)
    resolved_items, resolved_total = await incidents.list_incidents(
        session, status="resolved", limit=RESOLVED_LIMIT)
    latest = await decision_rows.latest_for_incidents(
        session, [i.id for i in [*open_items, *resolved_items]])
    open_rows = _rows(open_items, latest)
    # most urgent first, then the one that signalled last
    open_rows.sort(key=lambda r: -r.incident.last_signal_at.timestamp())
    open_rows.sort(key=lambda r: PRIORITY_ORDER.get(r.incident.priority, 9))
    return Dashboard(open_rows, _rows(resolved_items, latest), open_total, resolved_total)


@dataclass
class IncidentPage:
    """Everything the incident page shows; `details` is what the API's providers return."""

    incident: IncidentView
    signals: list[SignalView]
    details: dict[str, Any]
    decision: DecisionView | None
    decisions: list[Decision]
    unavailable: list[str] = field(default_factory=list)

    @property
    def package(self) -> DecisionPackage | None:
        """Return the decision's package, else the debate's (a decision may not exist yet)."""
        if self.decision is not None and self.decision.package is not None:
            return self.decision.package
        debate = self.details.get("debate") or {}
        stored = debate.get("package")
        return DecisionPackage.model_validate(stored) if stored else None

    def turn(self, role: str) -> dict[str, Any]:
        """Return the latest debate's turn of one agent (empty when it did not speak)."""
        for turn in (self.details.get("debate") or {}).get("turns") or []:
            if turn.get("role") == role:
                return dict(turn)
        return {}

    def output(self, role: str) -> dict[str, Any]:
        """Return what one agent said in the latest debate."""
        return dict(self.turn(role).get("output") or {})

    @property
    def hypotheses(self) -> list[Hypothesis]:
        """Return the top hypotheses: the Diagnostician's, else the package's."""
        said = _fitting(Hypothesis, self.output("diagnostician").get("hypotheses"))
        package = self.package
        return (said or (package.hypotheses if package is not None else []))[:3]

    @property
    def challenges(self) -> list[Challenge]:
        """Return the Critic's challenges: as it said them, else as the decision stored them."""
        said = _fitting(Challenge, self.output("critic").get("challenges"))
        package = self.package
        return said or (package.challenges if isinstance(package, ReadyPackage) else [])

    @property
    def followups(self) -> list[FollowUp]:
        """Return the package's follow-ups, else the Solver's."""
        package = self.package
        stored = package.followups if package is not None else []
        return stored or _fitting(FollowUp, self.output("solver").get("followups"))


M = TypeVar("M", bound=BaseModel)


def _fitting(model: type[M], items: Any) -> list[M]:
    """Read the items of an agent's recorded output that fit today's model (old ones may not)."""
    kept = []
    for item in items or []:
        try:
            kept.append(model.model_validate(item))
        except ValidationError:
            continue
    return kept


async def incident_page(providers: list[DetailProvider], session: AsyncSession,
                        incident_id: str) -> IncidentPage | None:
    """Gather an incident, its signals, the providers' details and its newest decision."""
    incident = await incidents.get_incident(session, incident_id)
    if incident is None:
        return None
    signals = await incidents.list_signals(session, incident_id)
    # the same providers `GET /api/v1/incidents/{id}` merges: evidence, debate, decision, timeline
    details, unavailable = await incident_details(providers, session, incident_id)
    all_decisions = list(await decision_rows.for_incident(session, incident_id))
    view = None
    if all_decisions:
        try:
            view = await decisions.get_view(session, all_decisions[-1].token)
        except DecisionNotFound:
            view = None
    return IncidentPage(
        incident=IncidentView.model_validate(incident),
        signals=[SignalView.model_validate(s) for s in signals],
        details=details, decision=view, decisions=all_decisions, unavailable=unavailable,
    )


async def playbooks(session: AsyncSession) -> list[dict[str, Any]]:
    """Return every playbook with its learned trust, most trusted first."""
    return await learn.list_playbooks(session)


@dataclass
class AuditPage:
    events: list[AuditEvent]
    report: audit.ChainReport
    total: int
    offset: int
    limit: int


async def audit_page(session: AsyncSession, *, incident_id: str | None, offset: int | None,
                     limit: int) -> AuditPage:
    """Return one page of the audit trail (the newest when no offset) and the chain check."""
    total = await audit.count_events(session, incident_id=incident_id)
    if offset is None:
        offset = max(total - limit, 0)
    events = await audit.list_events(session, incident_id=incident_id, limit=limit,
                                     offset=offset)
    return AuditPage(events, await audit.verify_chain(session), total, offset, limit)
