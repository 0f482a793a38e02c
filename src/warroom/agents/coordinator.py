"""Coordinator: pure rules over the four outputs, ending in the decision package.

Outcomes (the package's `outcome`):
- `all_degraded_human`: every agent failed; a human decides from the raw evidence.
- `abstain_escalate`: the diagnosis abstained (or failed): escalate with what is known.
- `no_plan_escalate`: the Solver produced nothing usable.
- `no_action`: healthy, recovered or a false alarm; nothing to do.
- `no_action_confirm`: nothing found, but a P0/P1 alert still fires: a human confirms it.
- `reject_escalate`: the Reviewer (hard rule or blast radius) or a critical challenge rejected.
- `escalate`: the policy's answer for this fault is a human.
- `revise_human`: the Reviewer asked for a narrower action, or the plan is the Solver's second
  choice after the first was objected to: proposed, a human must decide.
- `approve_with_human`: approved, but policy, risk, confidence or a degraded peer wants a human.
- `approve_auto_eligible`: approved by all, low risk, confident, the fault allows automation.
"""

from __future__ import annotations

from dataclasses import dataclass

from warroom.agents.models import (
    HUMAN_REQUIRED,
    Action,
    ActionPlan,
    CriticReport,
    DecisionPackage,
    DecisionStatus,
    DiagnosisReport,
    Fault,
    ReviewVerdict,
)
from warroom.agents.ports import DebateContext
from warroom.agents.team import responsible_team

AUTO_MIN_CONFIDENCE = 0.8
AUTO_MIN_LEAD = 0.2  # over every other hypothesis


@dataclass
class Degraded:
    """Which agents degraded to an abstaining vote in this debate."""

    diagnostician: bool = False
    solver: bool = False
    reviewer: bool = False
    critic: bool = False

    @property
    def all(self) -> bool:
        return self.diagnostician and self.solver and self.reviewer and self.critic


def decide(ctx: DebateContext, diagnosis: DiagnosisReport, plan: ActionPlan,
           review: ReviewVerdict, critique: CriticReport,
           degraded: Degraded | None = None, *, revised: bool = False) -> DecisionPackage:
    """Aggregate the votes into the decision package.

    `revised` says the plan is the Solver's second choice after the first was objected to:
    even approved, it then goes to a human.
    """
    degraded = degraded or Degraded()
    hyps = diagnosis.hypotheses
    team = responsible_team(ctx, diagnosis)
    base = {"team": team, "followups": plan.followups, "hypotheses": hyps[:5]}
    top_fault: Fault | None = hyps[0].fault if hyps and not diagnosis.abstain else None

    def escalate(outcome: str, status: DecisionStatus, why: str,
                 reason: str | None = None) -> DecisionPackage:
        action = Action(type="escalate", params={"reason": (reason or why)[:500]})
        return DecisionPackage(
            status=status, action=action, requires_human_approval=True, risk="low",
            blast_radius=0, confidence=hyps[0].confidence if hyps else 0.0,
            blocked_reason=why if status == "blocked" else None, outcome=outcome,
            fault=top_fault, summary=_summary(outcome, why, diagnosis, review, critique),
            **base)

    if degraded.all:
        return escalate("all_degraded_human", "blocked",
                        "every agent failed or timed out: a human must decide")
    if degraded.diagnostician or diagnosis.abstain or not hyps:
        return escalate("abstain_escalate", "ready",
                        "the diagnosis is not confident enough to act on",
                        _escalation_reason(plan))
    if not plan.candidates:
        return escalate("no_plan_escalate", "blocked", "the Solver proposed no usable action")
    top = plan.candidates[0]
    hyp = hyps[min(top.hypothesis, len(hyps) - 1)]
    fault: Fault = hyp.fault
    if review.vote == "reject":
        why = "; ".join(v.message for v in review.violations) or "; ".join(review.notes[-1:])
        return escalate("reject_escalate", "blocked", f"Reviewer rejected "
                        f"{top.action.type} {top.action.target or ''}: {why}".strip())
    criticals = [c for c in critique.challenges if c.severity == "critical"]
    if critique.vote == "reject":
        why = "; ".join(c.text for c in criticals) or "the Critic rejected the plan"
        return escalate("reject_escalate", "blocked",
                        f"Critic rejected {top.action.type} {top.action.target or ''}: {why}")
    if top.action.type == "escalate":
        return escalate("escalate", "ready", f"policy for {fault} is to hand it to a human",
                        str(top.action.params.get("reason", "")) or None)
    warnings = sum(1 for c in critique.challenges if c.severity == "warning")
    confidence = round(max(0.0, hyp.confidence - 0.05 * warnings), 3)
    package = DecisionPackage(
        status="ready", action=top.action, risk=top.risk, blast_radius=review.blast_radius
        or top.blast_radius, confidence=confidence, fault=fault, **base)
    if top.action.type == "no_action":
        package.risk = "low"
        # evidence can lag an alert (or miss what it measures): a page stays with a human
        urgent = ctx.priority in ("P0", "P1") and any(
            a.status == "firing" for a in ctx.evidence.alerts)
        package.requires_human_approval = urgent
        package.outcome = "no_action_confirm" if urgent else "no_action"
    elif review.vote == "request_revision" or revised:
        package.requires_human_approval = True
        package.outcome = "revise_human"
    else:
        human_faults = [h for h in hyps[:3] if h.fault in HUMAN_REQUIRED and h.confidence >= 0.3]
        # a close runner-up means the diagnosis could be wrong: a human settles it
        contested = any(h.confidence > hyp.confidence - AUTO_MIN_LEAD for h in hyps[:3]
                        if h is not hyp)
        auto = (review.vote == "approve" and critique.vote == "approve"
                and not (degraded.reviewer or degraded.critic or degraded.solver)
                and top.risk == "low" and confidence >= AUTO_MIN_CONFIDENCE
                and fault not in HUMAN_REQUIRED and not human_faults and not contested)
        package.requires_human_approval = not auto
        package.outcome = "approve_auto_eligible" if auto else "approve_with_human"
    package.summary = _summary(package.outcome, "", diagnosis, review, critique, package)
    return package


def _escalation_reason(plan: ActionPlan) -> str | None:
    for cand in plan.candidates:
        if cand.action.type == "escalate":
            return str(cand.action.params.get("reason", "")) or None
    return None


def _summary(outcome: str, why: str, diagnosis: DiagnosisReport, review: ReviewVerdict,
             critique: CriticReport, package: DecisionPackage | None = None) -> str:
    parts = []
    if diagnosis.hypotheses and not diagnosis.abstain:
        h = diagnosis.hypotheses[0]
        where = f"{h.namespace}/{h.service}" if h.namespace else h.service
        parts.append(f"Diagnosis: {h.fault} on {where} ({h.confidence:.2f}).")
    else:
        parts.append("Diagnosis: abstained.")
    if package is not None and package.action is not None:
        parts.append(f"Plan: {package.action.type} {package.action.target or ''}".rstrip()
                     + f" (risk {package.risk}, blast {package.blast_radius}).")
    parts.append(f"Reviewer: {review.vote}. Critic: {critique.vote}"
                 f" with {len(critique.challenges)} challenge(s).")
    labels = {
        "approve_auto_eligible": "Eligible for automatic execution under policy.",
        "approve_with_human": "Approved; a human must confirm.",
        "revise_human": "Reviewer asked for revision; a human must decide.",
        "no_action": "Nothing to do.",
        "no_action_confirm": "No fault found, but a high-priority alert still fires: a human "
                             "confirms there is nothing to do.",
    }
    parts.append(why or labels.get(outcome, ""))
    return " ".join(p for p in parts if p)[:1000]
