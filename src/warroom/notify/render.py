"""Turn a decision as it is now into the card chat shows, and an event into a thread line."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from warroom.agents.models import DecisionPackage
from warroom.decisions.models import DecisionView
from warroom.i18n.service import _
from warroom.notify.models import Card
from warroom.store.tables import Incident


class EventDetail(BaseModel):
    """What a state change recorded about itself (the transition's audit payload)."""

    reason: str | None = None
    verdict: str | None = None

_HEADLINES = {
    "analyzing": "Analyzing",
    "ready": "Decision ready",
    "approved": "Approved",
    "rejected": "Rejected",
    "expired": "Decision expired",
    "executing": "Executing",
    "verifying": "Executed, verifying",
    "completed": "Completed",
    "failed": "Failed",
}


def _action_text(package: DecisionPackage) -> str:
    if package.action is None:
        return "none"
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
    if view.status == "rejected" and rejected_by:
        return f"rejected by {rejected_by}"
    if view.status == "expired":
        return "the decision expired: nobody can act on it any more"
    if approvers:
        return f"approved by {', '.join(approvers)}; the decision is {view.status}"
    return f"the decision is {view.status}"


def card(view: DecisionView, incident: Incident) -> Card:
    """Render the card of a decision from its current state."""
    package = view.package or DecisionPackage(status="failed")
    challenges = view.package.challenges if view.package is not None else []
    approvers = [a.approver for a in view.approvals if a.verdict == "approve"]
    rejected_by = next((a.approver for a in view.approvals if a.verdict == "reject"), None)
    headline = _HEADLINES.get(view.status, view.status)
    if view.parent_token and view.status == "ready":
        headline = f"Rollback proposed (undoes {view.parent_token})"
    last = view.verifications[-1] if view.verifications else None
    return Card(
        token=view.token, headline=headline, status=view.status,
        incident_id=incident.id, title=incident.title, namespace=incident.namespace,
        service=incident.service, priority=incident.priority,
        diagnosis=package.summary or "no diagnosis", action=_action_text(package),
        risk=package.risk, blast_radius=package.blast_radius, confidence=package.confidence,
        challenges=[f"{c.severity}: {c.text}" for c in challenges],
        summary=view.package.incident_summary if view.package is not None else "",
        approvers=approvers, approvals_needed=view.requires_approvals, rejected_by=rejected_by,
        executed_call=_executed_call(view),
        verification=f"{last.verdict}, self-healing score {last.score:.2f}" if last else None,
        live=view.status == "ready",
        closed_reason=_closed_reason(view, approvers, rejected_by),
    )


def note(event: str, view: Card, payload: dict[str, Any]) -> str | None:
    """Return the thread line for an event, or None when the updated card says it all."""
    detail = EventDetail.model_validate(payload)
    if event == "approved":
        return f"Approved by {', '.join(view.approvers) or 'policy'}"
    if event == "rejected":
        return f"Rejected by {view.rejected_by or 'a human'}"
    if event == "expired":
        return f"Decision expired: {detail.reason or 'no answer in time'}"
    if event == "verifying":
        return f"Executed: {view.executed_call or 'no call recorded'}"
    if event == "completed":
        if view.verification:
            return f"Verified: {view.verification}"
        return "Completed without executing anything: a human takes it from here"
    if event == "failed":
        reason = detail.reason or detail.verdict or "see the audit trail"
        return f"Failed: {reason}" + (f" (verified: {view.verification})"
                                      if view.verification else "")
    return None


def summary_line(card: Card) -> str:
    """Return the card's summary line for people, or "" when the analysis wrote none."""
    return _("Summary: %(text)s") % {"text": card.summary} if card.summary else ""
