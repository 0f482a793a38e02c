"""Turn a decision as it is now into the card chat shows, and an event into a thread line.

Cards and thread lines are for people: they read in the configured language (the sender
activates it; `_()`) and show times in the configured time zone with its UTC offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from warroom.agents.models import DecisionPackage
from warroom.decisions.models import DecisionView
from warroom.domain.models import DebateExtras
from warroom.i18n.service import _, local_time, utc_offset
from warroom.notify.models import Card
from warroom.store.tables import Incident


class EventDetail(BaseModel):
    """What a state change recorded about itself (the transition's audit payload)."""

    reason: str | None = None
    verdict: str | None = None


def _headline(status: str) -> str:
    headlines = {
        "analyzing": _("Analyzing"),
        "ready": _("Decision ready"),
        "approved": _("Approved"),
        "rejected": _("Rejected"),
        "expired": _("Decision expired"),
        "executing": _("Executing"),
        "verifying": _("Executed, verifying"),
        "completed": _("Completed"),
        "failed": _("Failed"),
    }
    return headlines.get(status, status)


def when(value: datetime, timezone: str) -> str:
    """Show an instant for people: local time in `timezone` and the zone's UTC offset then."""
    return f"{local_time(value, timezone, '%Y-%m-%d %H:%M')} ({utc_offset(timezone, value)})"


def _action_text(package: DecisionPackage) -> str:
    if package.action is None:
        return _("none")
    params = " ".join(f"{k}={v}" for k, v in sorted(package.action.params.items()))
    return " ".join(part for part in (package.action.type, package.action.target, params) if part)


def _executed_call(view: DecisionView) -> str | None:
    if not view.executions:
        return None
    e = view.executions[-1]
    request = e.request or {}
    call = e.kubectl or " ".join(str(request.get(k, "")) for k in ("method", "path")).strip()
    return f"{call} ({e.executor}, {e.status})"


def _closed_reason(view: DecisionView, approvers: list[str], rejected_by: str | None) -> str:
    if view.status == "ready":
        return ""
    status = _headline(view.status)
    if view.status == "rejected" and rejected_by:
        return _("rejected by %(who)s") % {"who": rejected_by}
    if view.status == "expired":
        return _("the decision expired: nobody can act on it any more")
    if approvers:
        return _("approved by %(who)s; the decision is: %(status)s") % {
            "who": ", ".join(approvers), "status": status}
    return _("the decision is: %(status)s") % {"status": status}


def card(view: DecisionView, incident: Incident, *, timezone: str = "UTC") -> Card:
    """Render the card of a decision from its current state, its times in `timezone`."""
    package = view.package or DecisionPackage(status="failed")
    extras = view.package or DebateExtras()  # the Critic's challenges, the summary for people
    approvers = [a.approver for a in view.approvals if a.verdict == "approve"]
    rejected_by = next((a.approver for a in view.approvals if a.verdict == "reject"), None)
    headline = _headline(view.status)
    if view.parent_token and view.status == "ready":
        headline = _("Rollback proposed (undoes %(token)s)") % {"token": view.parent_token}
    last = view.verifications[-1] if view.verifications else None
    return Card(
        token=view.token, headline=headline, status=view.status,
        incident_id=incident.id, title=incident.title, namespace=incident.namespace,
        service=incident.service, priority=incident.priority,
        diagnosis=package.summary or _("no diagnosis"), action=_action_text(package),
        risk=package.risk, blast_radius=package.blast_radius, confidence=package.confidence,
        challenges=[f"{c.severity}: {c.text}" for c in extras.challenges],
        summary=extras.incident_summary,
        approvers=approvers, approvals_needed=view.requires_approvals, rejected_by=rejected_by,
        executed_call=_executed_call(view),
        verification=_("%(verdict)s, self-healing score %(score).2f") % {
            "verdict": _verdict(last.verdict), "score": last.score} if last else None,
        live=view.status == "ready",
        opened=when(incident.opened_at, timezone),
        answer_by=when(view.expires_at, timezone)
        if view.expires_at is not None and view.status == "ready" else None,
        closed_reason=_closed_reason(view, approvers, rejected_by),
    )


def _verdict(verdict: str) -> str:
    verdicts = {"success": _("success"), "degraded": _("degraded"), "failed": _("failed")}
    return verdicts.get(verdict, verdict)


def note(event: str, view: Card, payload: dict[str, Any]) -> str | None:
    """Return the thread line for an event, or None when the updated card says it all."""
    detail = EventDetail.model_validate(payload)
    if event == "approved":
        return _("Approved by %(who)s") % {"who": ", ".join(view.approvers) or _("policy")}
    if event == "rejected":
        return _("Rejected by %(who)s") % {"who": view.rejected_by or _("a human")}
    if event == "expired":
        return _("Decision expired: %(reason)s") % {
            "reason": detail.reason or _("no answer in time")}
    if event == "verifying":
        return _("Executed: %(call)s") % {"call": view.executed_call or _("no call recorded")}
    if event == "completed":
        if view.verification:
            return _("Verified: %(verification)s") % {"verification": view.verification}
        return _("Completed without executing anything: a human takes it from here")
    if event == "failed":
        reason = detail.reason or detail.verdict or _("see the audit trail")
        line = _("Failed: %(reason)s") % {"reason": reason}
        if view.verification:
            line += " " + _("(verified: %(verification)s)") % {
                "verification": view.verification}
        return line
    return None


def summary_line(card: Card) -> str:
    """Return the card's summary line for people, or "" when the analysis wrote none."""
    return _("Summary: %(text)s") % {"text": card.summary} if card.summary else ""
