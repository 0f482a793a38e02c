"""Rule Reviewer: the hard safety rules and the blast radius of the plan's top candidate."""

from __future__ import annotations

from warroom.agents.models import ActionPlan, DiagnosisReport, ReviewVerdict
from warroom.agents.ports import DebateContext
from warroom.safety.blast import blast_radius
from warroom.safety.rules import RuleContext, check_action

REVISE_ABOVE = 50
REJECT_ABOVE = 80


class RuleReviewer:
    """Approve, ask for revision or reject the top candidate; a hard-rule breach always rejects."""

    name = "rules"

    async def review(self, ctx: DebateContext, diagnosis: DiagnosisReport,
                     plan: ActionPlan) -> ReviewVerdict:
        """Judge the plan's first candidate against the rules and its blast radius."""
        return review(ctx, diagnosis, plan)


def review(ctx: DebateContext, diagnosis: DiagnosisReport, plan: ActionPlan) -> ReviewVerdict:
    """Return the verdict (pure function)."""
    if not plan.candidates:
        return ReviewVerdict(vote="abstain", notes=["the plan has no candidate to review"])
    top = plan.candidates[0]
    named = {(h.namespace, h.service) for h in diagnosis.hypotheses}
    rule_ctx = RuleContext(objects=ctx.evidence.objects, named=named,
                           ranked=diagnosis.hypotheses, topology=ctx.evidence.topology)
    violations = check_action(top.action, rule_ctx)
    # recompute rather than trust the Solver's own score
    blast = max(top.blast_radius, blast_radius(top.action, ctx.evidence,
                                               ctx.critical_namespaces))
    notes = [f"blast radius {blast}/100 for {top.action.type} {top.action.target or ''}".strip()]
    for other in plan.candidates[1:]:
        if check_action(other.action, rule_ctx):
            notes.append(f"alternative {other.action.type} {other.action.target} also breaks "
                         "a hard rule")
    if violations:
        notes.append("hard rule broken: " + "; ".join(v.message for v in violations))
        return ReviewVerdict(vote="reject", violations=violations, blast_radius=blast,
                             notes=notes)
    if blast > REJECT_ABOVE:
        notes.append(f"blast radius over {REJECT_ABOVE}: too much of the system at stake")
        return ReviewVerdict(vote="reject", blast_radius=blast, notes=notes)
    if blast > REVISE_ABOVE:
        notes.append(f"blast radius over {REVISE_ABOVE}: find a narrower action or a human")
        return ReviewVerdict(vote="request_revision", blast_radius=blast, notes=notes)
    return ReviewVerdict(vote="approve", blast_radius=blast, notes=notes)
