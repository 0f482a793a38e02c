"""The rule template of an incident's summary for the humans on call.

It stands whenever no model writes the summary (see `warroom.llm.summary`), late or failing.
"""

from __future__ import annotations

from warroom.agents.models import DecisionPackage
from warroom.agents.ports import DebateContext


def rule_summary(ctx: DebateContext, package: DecisionPackage) -> str:
    """Return the template summary: where, the likely cause, the proposal, who decides."""
    where = "/".join(p for p in (ctx.namespace, ctx.service) if p) or "the cluster"
    parts = [f"{ctx.priority} incident on {where}" + (f": {ctx.title}." if ctx.title else ".")]
    top = package.hypotheses[0] if package.hypotheses else None
    if top is not None and package.fault is not None:
        place = "/".join(p for p in (top.namespace, top.service) if p)
        parts.append(f"Most likely cause: {top.fault.replace('_', ' ')} on {place} "
                     f"(confidence {top.confidence:.2f}).")
    else:
        parts.append("No cause could be established with confidence.")
    action = package.action
    if action is not None and action.type not in ("escalate", "no_action"):
        parts.append(f"Proposed: {action.type.replace('_', ' ')} {action.target or ''}".rstrip()
                     + f" (risk {package.risk}); "
                     + ("a human must approve it." if package.requires_human_approval
                        else "policy allows it to run automatically."))
    elif action is not None and action.type == "no_action":
        parts.append("Nothing to fix was found.")
    else:
        parts.append("A human must decide what to do.")
    failed = [s.sensor for s in ctx.evidence.sensors if s.status in ("error", "timeout")]
    if failed:
        parts.append(f"Evidence is incomplete: {', '.join(failed)} did not answer.")
    return " ".join(parts)
