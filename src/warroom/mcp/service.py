"""Read warroom's own records for the MCP tools: incidents, evidence, debates, history, audit.

Every function is read-only (it never adds, flushes or commits) and answers a structured result
whose free text went through the evidence sanitizer: secrets redacted, sizes capped, planted
instructions fenced as data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.agents import repository as snapshots
from warroom.agents.service import PACKAGE_KIND, TURN_KIND
from warroom.decisions import repository as decisions
from warroom.decisions.policy import playbook_key
from warroom.domain.models import DecisionPackage, Hypothesis
from warroom.ingest import repository as incidents
from warroom.learn.service import playbook_trust
from warroom.mcp import repository
from warroom.mcp.models import (
    AgentTurnView,
    AuditEntry,
    AuditResult,
    DebateResult,
    DecisionView,
    EvidenceResult,
    IncidentList,
    IncidentSummary,
    PastIncident,
    SimilarResult,
    VerificationView,
)
from warroom.safety.sanitize import clean_text, clean_value
from warroom.sensors.history import HistorySensor
from warroom.sensors.models import SensorRequest
from warroom.sensors.scope import build_request
from warroom.store import audit
from warroom.store.tables import Incident, Signal

EVIDENCE_PARTS = ("series", "objects", "logs", "topology", "changes", "documents", "similar")


def _clean(value: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = clean_value(value)
    return cleaned


async def _summaries(session: AsyncSession, rows: list[Incident]) -> list[IncidentSummary]:
    status = await repository.latest_decision_status(session, [r.id for r in rows])
    return [IncidentSummary(
        id=r.id, status=r.status, priority=r.priority, namespace=r.namespace,
        service=r.service, title=clean_text(r.title, 300), opened_at=r.opened_at,
        resolved_at=r.resolved_at,
        decision_status=status.get(r.id)) for r in rows]


async def list_incidents(session: AsyncSession, *, status: str | None, priority: str | None,
                         service: str | None, namespace: str | None,
                         limit: int) -> IncidentList:
    """List incidents newest first, filtered like `warroom incidents list`."""
    params = {"status": status, "priority": priority, "service": service,
              "namespace": namespace, "limit": limit}
    rows, total = await incidents.list_incidents(
        session, status=status, priority=priority, service=service, namespace=namespace,
        limit=limit)
    asked = ", ".join(f"{k}={v}" for k, v in params.items() if v and k != "limit") or "any"
    return IncidentList(
        tool="list_incidents", status="ok" if rows else "empty",
        parameters=params, queries=[f"incidents where {asked}, newest first, limit {limit}"],
        total=total, incidents=await _summaries(session, rows),
        note="" if rows else f"searched incidents where {asked}, found none")


async def search_incidents(session: AsyncSession, *, text: str, status: str | None,
                           limit: int) -> IncidentList:
    """Find incidents whose title, service or namespace holds every word of `text`."""
    words = [w for w in text.split() if w][:8]
    params = {"text": text, "status": status, "limit": limit}
    query = f"incidents whose title, service or namespace contain all of {words}" + (
        f" and status={status}" if status else "")
    if not words:
        return IncidentList(tool="search_incidents", status="error", parameters=params,
                            error="text is empty: give one or more words to search for")
    rows, total = await repository.search_incidents(session, words, status=status, limit=limit)
    return IncidentList(
        tool="search_incidents", status="ok" if rows else "empty", parameters=params,
        queries=[query], total=total, incidents=await _summaries(session, rows),
        note="" if rows else f"searched {query}, found none")


async def incident_evidence(session: AsyncSession, incident_id: str) -> EvidenceResult:
    """Return the newest evidence snapshot of an incident, as the agents saw it."""
    params = {"incident_id": incident_id}
    query = f"newest evidence snapshot of incident {incident_id}"
    if await incidents.get_incident(session, incident_id) is None:
        return EvidenceResult(tool="incident_evidence", status="not_found", parameters=params,
                              queries=[query], incident_id=incident_id,
                              error=f"no incident {incident_id}")
    row = await snapshots.latest_snapshot(session, incident_id)
    if row is None:
        return EvidenceResult(tool="incident_evidence", status="empty", parameters=params,
                              queries=[query], incident_id=incident_id,
                              note="the incident has no evidence snapshot yet (not analysed)")
    data = _clean(dict(row.data or {}))
    return EvidenceResult(
        tool="incident_evidence", status="ok", parameters=params, queries=[query],
        incident_id=incident_id, snapshot_id=row.id, taken_at=row.taken_at,
        counts={k: len(data.get(k) or []) for k in EVIDENCE_PARTS}, snapshot=data)


async def _decisions(session: AsyncSession, incident_id: str) -> list[DecisionView]:
    out = []
    for d in await decisions.for_incident(session, incident_id):
        stored = d.package.action if d.package is not None else None
        action = stored.model_dump(mode="json") if stored is not None else None
        out.append(DecisionView(
            token=d.token, status=d.status, fault=d.fault, created_at=d.created_at,
            action=_clean(dict(action)) if action else None,
            verifications=[VerificationView(verdict=v.verdict, score=v.score, at=v.at,
                                            details=_clean(dict(v.details or {})))
                           for v in await decisions.verifications(session, d.token)]))
    return out


def _hypotheses(ranked: list[Any]) -> list[Hypothesis]:
    """Keep the stored hypotheses that still fit today's model (old records may not)."""
    kept = []
    for item in ranked:
        try:
            kept.append(Hypothesis.model_validate(item))
        except ValidationError:
            continue
    return kept


async def incident_debate(session: AsyncSession, incident_id: str) -> DebateResult:
    """Return the latest debate: ranked hypotheses, every agent's turn, decisions, verification."""
    params = {"incident_id": incident_id}
    queries = [f"audit events {TURN_KIND} and {PACKAGE_KIND} of incident {incident_id}",
               f"decisions and verifications of incident {incident_id}"]
    if await incidents.get_incident(session, incident_id) is None:
        return DebateResult(tool="incident_debate", status="not_found", parameters=params,
                            queries=queries, incident_id=incident_id,
                            error=f"no incident {incident_id}")
    events = await audit.list_events(session, incident_id=incident_id, limit=10_000)
    packages = [e for e in events if e.kind == PACKAGE_KIND]
    decided = await _decisions(session, incident_id)
    if not packages:
        return DebateResult(tool="incident_debate", status="empty", parameters=params,
                            queries=queries, incident_id=incident_id, decisions=decided,
                            note="the incident has not been debated yet")
    latest = max(packages, key=lambda e: e.seq)
    # the package as the debate stored it, sanitized like every value this server returns
    package = _clean(DecisionPackage.model_validate(latest.payload["package"]).model_dump(
        mode="json"))
    turns = [AgentTurnView(
        role=str(e.payload.get("role", "")), vote=e.payload.get("vote"),
        degraded=bool(e.payload.get("degraded")), error=e.payload.get("error"),
        latency_ms=float(e.payload.get("latency_ms") or 0.0),
        output=_clean(dict(e.payload.get("output") or {})))
        for e in events if e.kind == TURN_KIND and e.session_id == latest.session_id]
    diagnosis = next((t.output for t in turns if t.role == "diagnostician"), {})
    hypotheses = (_hypotheses(diagnosis.get("hypotheses") or [])
                  or _hypotheses(package["hypotheses"]))
    return DebateResult(
        tool="incident_debate", status="ok", parameters=params, queries=queries,
        incident_id=incident_id, session_id=latest.session_id,
        hypotheses=hypotheses, summary=str(package["summary"]), package=package, turns=turns,
        decisions=decided)


async def similar_incidents(sessions: async_sessionmaker[AsyncSession], *,
                            incident_id: str | None, service: str | None,
                            namespace: str | None, limit: int) -> SimilarResult:
    """Find past incidents alike one incident (or a service/namespace) and how they ended.

    The same search the Diagnostician's history sensor runs, with each past fix's learned
    playbook trust beside it.
    """
    params = {"incident_id": incident_id, "service": service, "namespace": namespace,
              "limit": limit}
    now = datetime.now(UTC)
    async with sessions() as session:
        if incident_id:
            incident = await incidents.get_incident(session, incident_id)
            if incident is None:
                return SimilarResult(tool="similar_incidents", status="not_found",
                                     parameters=params, error=f"no incident {incident_id}")
            signals: list[Signal] = await incidents.list_signals(session, incident_id)
            request = build_request(incident, signals, now=now, lookback_seconds=0)
        else:
            request = SensorRequest(now=now, services=[service] if service else [],
                                    namespaces=[namespace] if namespace else [])
        trust = await playbook_trust(session)
    if not (request.services or request.namespaces):
        return SimilarResult(tool="similar_incidents", status="error", parameters=params,
                             error="give an incident_id, a service or a namespace to match on")
    found = await HistorySensor(sessions, limit=limit).collect(request)
    similar = [PastIncident(
        **s.model_dump(exclude={"title"}), title=clean_text(s.title, 300),
        playbook_trust=trust.get(playbook_key(s.fault, s.action)) if s.fault else None)
        for s in found.data.similar]
    return SimilarResult(
        tool="similar_incidents", status=found.run.status, parameters=params,
        queries=found.run.queries, error=found.run.error, note=found.run.note,
        similar=similar)


async def audit_trail(session: AsyncSession, incident_id: str, *, kind: str | None,
                      limit: int, offset: int) -> AuditResult:
    """Return an incident's audit rows in chain order and whether the chain verifies."""
    params = {"incident_id": incident_id, "kind": kind, "limit": limit, "offset": offset}
    query = f"audit events of incident {incident_id}" + (f" of kind {kind}" if kind else "") + \
        f", in chain order, offset {offset}, limit {limit}"
    if await incidents.get_incident(session, incident_id) is None:
        return AuditResult(tool="audit_trail", status="not_found", parameters=params,
                           queries=[query], incident_id=incident_id,
                           error=f"no incident {incident_id}")
    rows = await audit.list_events(session, incident_id=incident_id, kind=kind, limit=limit,
                                   offset=offset)
    report = await audit.verify_chain(session)
    return AuditResult(
        tool="audit_trail", status="ok" if rows else "empty", parameters=params,
        queries=[query, "re-computed every hash of the audit chain"], incident_id=incident_id,
        total=await audit.count_events(session, incident_id=incident_id), chain_ok=report.ok,
        events=[AuditEntry(seq=e.seq, at=e.at, kind=e.kind, actor=e.actor,
                           decision_token=e.decision_token, payload=_clean(dict(e.payload)))
                for e in rows],
        note="" if rows else f"searched {query}, found none")

