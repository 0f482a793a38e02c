"""The Solver's model backend: choose and order catalogue actions, never write them.

A model picks action types for hypotheses; the rule Solver's code fills every parameter and
scores blast radius and risk from the evidence. An action outside the fault's policy, a
hypothesis too weak to act on, or a target the evidence does not hold rejects the answer.
"""

from __future__ import annotations

from typing import Any

from warroom.agents.models import ActionPlan, CandidateAction, DiagnosisReport
from warroom.agents.ports import DebateContext, Solver
from warroom.agents.solver import MIN_CONFIDENCE, POLICY, candidate_for

from .answers import PlanAnswer
from .base import ModelBackend, ModelMode
from .validate import Rejected, require_clean

TASK = ("Choose catalogue actions for the hypotheses, best first, from the actions allowed "
        "for each hypothesis below. Give the action type, the hypothesis index and the target "
        "(namespace/kind/name). Parameters are filled from the evidence, not by you.")


class ModelSolver(ModelBackend):
    """Plan with a model around the rule Solver."""

    role = "solver"
    instructions = ("You are the Solver. Prefer the narrowest action that fixes the root "
                    "cause; escalate to a human when no action is safe.")

    def __init__(self, rules: Solver, runtime: Any, mode: ModelMode) -> None:
        super().__init__(runtime, mode)
        self.rules = rules

    async def solve(self, ctx: DebateContext, diagnosis: DiagnosisReport) -> ActionPlan:
        """Return the rule plan, or the model's ordering once every action is checked."""
        rule = await self.rules.solve(ctx, diagnosis)
        if diagnosis.abstain or not diagnosis.hypotheses:
            return rule  # nothing to act on: the rule escalation stands, no question asked
        answer, turn = await self.consult(ctx, TASK, rule_answer(rule), PlanAnswer,
                                          menu(diagnosis))
        if answer is None:
            self.done(turn)
            return rule
        try:
            plan, how = merge(ctx, diagnosis, rule, answer)
        except Rejected as exc:
            self.done(turn, "rejected", f"{exc}; the rule answer stands")
            return rule
        self.done(turn, "accepted", how)
        return plan


def rule_answer(plan: ActionPlan) -> dict[str, Any]:
    """Return the rule plan in the shape of the model's answer."""
    return {"candidates": [{"type": c.action.type, "hypothesis": c.hypothesis,
                            "target": c.action.target} for c in plan.candidates[:6]],
            "rationale": ""}


def menu(diagnosis: DiagnosisReport) -> str:
    """Return the actions the policy allows for each hypothesis, for the prompt."""
    lines = ["Allowed actions per hypothesis (index: fault on place: actions):"]
    for i, h in enumerate(diagnosis.hypotheses[:5]):
        place = f"{h.namespace}/{h.service}" if h.namespace else h.service
        lines.append(f"{i}: {h.fault} on {place} ({h.confidence:.2f}): "
                     + ", ".join(POLICY.get(h.fault, ("escalate",))))
    return "\n".join(lines)


def merge(ctx: DebateContext, diagnosis: DiagnosisReport, rule: ActionPlan,
          answer: PlanAnswer) -> tuple[ActionPlan, str]:
    """Check every chosen action and build the plan; raise `Rejected` if one fails."""
    require_clean([answer.rationale], "the rationale")
    hyps = diagnosis.hypotheses
    escalation = next((c for c in reversed(rule.candidates) if c.action.type == "escalate"),
                      None)
    chosen: list[CandidateAction] = []
    for choice in answer.candidates:
        if choice.hypothesis >= len(hyps):
            raise Rejected(f"hypothesis {choice.hypothesis} does not exist")
        if choice.type == "escalate":
            continue  # always allowed; the rule escalation, with its reason, comes last
        hyp = hyps[choice.hypothesis]
        allowed = POLICY.get(hyp.fault, ("escalate",))
        if choice.type not in allowed:
            raise Rejected(f"{choice.type} is not in the policy for {hyp.fault} "
                           f"(allowed: {', '.join(allowed)})")
        if hyp.confidence < MIN_CONFIDENCE:
            raise Rejected(f"hypothesis {choice.hypothesis} ({hyp.confidence:.2f}) is too "
                           "weak to act on")
        built = next((c for c in rule.candidates if c.action.type == choice.type
                      and c.hypothesis == choice.hypothesis), None) or candidate_for(
            ctx, hyp, choice.hypothesis, choice.type)
        if built is None:
            raise Rejected(f"no target for {choice.type} on {hyp.service!r} in the evidence")
        if choice.target is not None and choice.target != built.action.target:
            raise Rejected(f"target {choice.target!r} is not in the evidence "
                           f"(the evidence gives {built.action.target!r})")
        if all(c.action != built.action for c in chosen):
            chosen.append(built)
    if escalation is not None:
        chosen.append(escalation)
    if [c.action for c in chosen] == [c.action for c in rule.candidates]:
        return rule, "agrees with the rule answer"
    top = chosen[0].action if chosen else None
    how = f"re-ordered; first: {top.type} {top.target or ''}".rstrip() if top else "no action"
    return ActionPlan(candidates=chosen, followups=rule.followups), how
