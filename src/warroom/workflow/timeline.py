"""An incident's story in order: signals, evidence, turns, decision, approvals, execution,
verification, learning. Read from the tables and the audit trail; shown by the API and the CLI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.agents import repository as agents_repository
from warroom.decisions import repository
from warroom.ingest import repository as ingest_repository
from warroom.store import audit

# audit kind prefix -> timeline stage
_STAGES = (
    ("signal", "signal"), ("incident", "signal"), ("evidence", "evidence"),
    ("sensor", "evidence"), ("agent", "turn"), ("debate", "turn"),
    ("decision.approval", "approval"), ("decision.rejection", "approval"),
    ("decision", "decision"), ("execution", "execution"), ("verification", "verification"),
    ("learn", "learning"), ("workflow", "workflow"),
)


def _stage(kind: str) -> str:
    for prefix, stage in _STAGES:
        if kind.startswith(prefix):
            return stage
    return kind.split(".", 1)[0]


def _summary(kind: str, payload: dict[str, Any]) -> str:
    if kind == "execution.call":
        request = payload.get("request") or {}
        return f"{payload.get('executor')}: {request.get('method')} {request.get('path')}" + (
            f"  ({payload['kubectl']})" if payload.get("kubectl") else ""
        )
    if kind == "verification.recorded":
        return f"{payload.get('verdict')} (self-healing score {payload.get('score')})"
    if kind == "learn.updated":
        return (f"{payload.get('playbook')} trust {payload.get('trust_before')} -> "
                f"{payload.get('trust_after')}")
    if kind in ("decision.approval", "decision.rejection"):
        return f"{payload.get('verdict')}: {payload.get('comment') or '(no comment)'}"
    if kind == "decision.ready":
        action = payload.get("action") or {}
        return (f"{action.get('type')} {action.get('target') or ''} risk={payload.get('risk')} "
                f"auto={payload.get('auto_execute')}").strip()
    for key in ("summary", "reason", "error", "outcome", "role"):
        if payload.get(key):
            return str(payload[key])
    return ""


async def build_timeline(session: AsyncSession, incident_id: str) -> list[dict[str, Any]]:
    """Return the incident's timeline entries, oldest first."""
    entries: list[tuple[datetime, int, dict[str, Any]]] = []
    events = await audit.list_events(session, incident_id=incident_id, limit=10_000)
    if not any(e.kind.startswith("signal") for e in events):
        for s in await ingest_repository.list_signals(session, incident_id):
            entries.append((s.received_at, 0, {
                "at": s.received_at.isoformat(), "stage": "signal", "kind": "signal",
                "actor": "alertmanager" if s.source == "alertmanager" else s.source,
                "summary": f"{s.alertname} {s.status} ({s.severity or 'no severity'})",
                "data": {"fingerprint": s.fingerprint, "labels": s.labels},
            }))
    if not any(e.kind.startswith("evidence") for e in events):
        for snap in await agents_repository.snapshots(session, incident_id):
            runs = snap.data.get("sensors") or []
            entries.append((snap.taken_at, 1, {
                "at": snap.taken_at.isoformat(), "stage": "evidence", "kind": "evidence",
                "actor": "warroom",
                "summary": ", ".join(f"{r.get('sensor')}={r.get('status')}" for r in runs),
                "data": {"snapshot_id": snap.id, "sensors": runs},
            }))
    for event in events:
        entries.append((event.at, 2 + event.seq, {
            "at": event.at.isoformat(), "stage": _stage(event.kind), "kind": event.kind,
            "actor": event.actor, "decision_token": event.decision_token, "seq": event.seq,
            "summary": _summary(event.kind, event.payload), "data": event.payload,
        }))
    entries.sort(key=lambda item: (item[0], item[1]))
    return [entry for _, _, entry in entries]


async def latest_decision(session: AsyncSession, incident_id: str) -> dict[str, Any] | None:
    """Return the incident's newest decision: token, status, action and who approved it."""
    decisions = list(await repository.for_incident(session, incident_id))
    if not decisions:
        return None
    d = decisions[-1]
    package = d.package
    action = package.action if package is not None else None
    return {
        "token": d.token,
        "status": d.status,
        "action": action.model_dump(mode="json") if action is not None else None,
        "risk": package.risk if package is not None else None,
        "requires_approvals": d.requires_approvals,
        "auto_execute": package is not None and package.policy.auto_execute,
        "parent_token": d.parent_token,
        "approvals": [
            {"approver": a.approver, "verdict": a.verdict, "at": a.at.isoformat()}
            for a in await repository.approvals(session, d.token)
        ],
        "decisions": [{"token": x.token, "status": x.status, "parent_token": x.parent_token}
                      for x in decisions],
    }


def render_timeline(detail: dict[str, Any]) -> str:
    """Render an incident detail's decision and timeline as text lines for a terminal."""
    lines = []
    decision = detail.get("decision")
    if decision:
        action = decision.get("action") or {}
        lines.append(f"decision {decision['token']}  {decision['status']}  "
                     f"{action.get('type', '-')} {action.get('target') or ''}".rstrip())
    for entry in detail.get("timeline") or []:
        at = str(entry.get("at", ""))[11:23]
        lines.append(f"{at}  {entry.get('stage', ''):<12} {entry.get('kind', ''):<24} "
                     f"{entry.get('actor', ''):<14} {entry.get('summary', '')}".rstrip())
    return "\n".join(lines)


async def incident_timeline_text(session: AsyncSession, incident_id: str) -> str:
    """Return the rendered timeline of one incident (for `warroom incidents show`)."""
    return render_timeline({
        "decision": await latest_decision(session, incident_id),
        "timeline": await build_timeline(session, incident_id),
    })


async def incident_detail(session: AsyncSession, incident_id: str) -> dict[str, Any]:
    """Return the incident's latest decision and its ordered timeline for the detail endpoint."""
    return {
        "decision": await latest_decision(session, incident_id),
        "timeline": await build_timeline(session, incident_id),
    }
