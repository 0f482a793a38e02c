"""Similar past incidents, from warroom's own tables: what happened before, what was done."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.sensors import repository
from warroom.sensors.models import (
    EvidenceData,
    SensorRequest,
    SensorResult,
    SensorRun,
    SimilarIncident,
)
from warroom.store.tables import Incident

_WORD = re.compile(r"[a-z0-9]{3,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def similarity(request: SensorRequest, incident: Incident) -> float:
    """Score 0..1 how alike a past incident is to the one the request describes."""
    score = 0.0
    if incident.service and incident.service in request.services:
        score += 0.5
    if incident.namespace and incident.namespace in request.namespaces:
        score += 0.2
    names = {a.labels.get("alertname", "") for a in request.alerts} - {""}
    title_words = _words(" ".join(names) + " " + " ".join(
        a.annotations.get("summary", "") for a in request.alerts))
    past = _words(incident.title)
    if title_words and past:
        score += 0.3 * len(title_words & past) / len(title_words | past)
    return round(min(score, 1.0), 3)


class HistorySensor:
    """Find past incidents on the same services or namespaces and how they ended."""

    name = "history"

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, limit: int = 5) -> None:
        self._sessions = sessions
        self._limit = limit

    def applies(self, request: SensorRequest) -> bool:
        """Search only when the incident names a service or a namespace to search by."""
        return bool(request.services or request.namespaces)

    async def collect(self, request: SensorRequest) -> SensorResult:
        """Query the incident, decision and verification tables for look-alikes."""
        query = f"incidents where service in {request.services} or namespace in " \
            f"{request.namespaces}, before {request.now.isoformat()}"
        if not (request.services or request.namespaces):
            return SensorResult(run=SensorRun(sensor=self.name, status="empty", queries=[query],
                                              note="no service or namespace to search by"))
        async with self._sessions() as session:
            incidents = await repository.past_incidents(
                session, services=request.services, namespaces=request.namespaces,
                before=request.now, exclude=request.incident_id, limit=50)
            # score all, then ask what happened only for the few kept (not once per candidate)
            scored = [(similarity(request, inc), inc) for inc in incidents]
            kept = sorted((pair for pair in scored if pair[0] > 0.2),
                          key=lambda pair: pair[0], reverse=True)[: self._limit]
            found: list[SimilarIncident] = []
            for score, inc in kept:
                fault, action, outcome = await repository.what_happened(session, inc.id)
                found.append(SimilarIncident(
                    incident_id=inc.id, title=inc.title, namespace=inc.namespace,
                    service=inc.service, fault=fault, action=action, outcome=outcome,
                    similarity=score))
        return SensorResult(
            run=SensorRun(sensor=self.name, status="ok" if found else "empty", queries=[query],
                          items=len(found),
                          note="" if found else f"searched {len(incidents)} past incidents, "
                          "found none alike"),
            data=EvidenceData(similar=found))

