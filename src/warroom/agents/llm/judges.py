"""The Reviewer's and the Critic's model backends: they can tighten a verdict, never loosen it.

The hard rules and the blast radius are the rule Reviewer's: a model voting `approve` on a
forbidden action changes nothing. A model may ask for revision or reject, and add concerns and
challenges, each checked against the evidence.
"""

from __future__ import annotations

from typing import Any

from warroom.agents.models import (
    ActionPlan,
    Challenge,
    CriticReport,
    DiagnosisReport,
    ReviewVerdict,
)
from warroom.agents.ports import Critic, DebateContext, Reviewer

from .answers import CritiqueAnswer, ReviewAnswer
from .base import ModelBackend, ModelMode, stricter
from .validate import Rejected, places_of, require_clean, require_place


def _plan_text(plan: ActionPlan) -> str:
    if not plan.candidates:
        return "The plan is empty."
    top = plan.candidates[0]
    return (f"The plan's first action: {top.action.type} {top.action.target or ''} "
            f"params={top.action.params} risk={top.risk} blast_radius={top.blast_radius} "
            f"for hypothesis {top.hypothesis}.")


class ModelReviewer(ModelBackend):
    """Review with a model around the rule Reviewer."""

    role = "reviewer"
    instructions = ("You are the Reviewer. Judge whether the plan's first action is safe and "
                    "proportionate: approve, request_revision (too wide or risky) or reject.")

    def __init__(self, rules: Reviewer, runtime: Any, mode: ModelMode) -> None:
        super().__init__(runtime, mode)
        self.rules = rules

    async def review(self, ctx: DebateContext, diagnosis: DiagnosisReport,
                     plan: ActionPlan) -> ReviewVerdict:
        """Return the rule verdict, made stricter by a checked model verdict."""
        rule = await self.rules.review(ctx, diagnosis, plan)
        if rule.vote == "abstain" or not plan.candidates:
            return rule  # nothing to review
        texts = [v.message for v in rule.violations] + rule.notes
        shown = {"vote": rule.vote, "concerns": [t[:400] for t in texts[:5]], "about": []}
        answer, turn = await self.consult(ctx, "Review the plan's first action.", shown,
                                          ReviewAnswer, _plan_text(plan))
        if answer is None:
            self.done(turn)
            return rule
        try:
            places = places_of(ctx.evidence, diagnosis)
            for name in answer.about:
                require_place(places, "", name, "concern about")
            require_clean(answer.concerns, "a concern")
        except Rejected as exc:
            self.done(turn, "rejected", f"{exc}; the rule answer stands")
            return rule
        vote = stricter(rule.vote, answer.vote)
        if vote != answer.vote:
            self.done(turn, "rejected", f"its {answer.vote} is looser than the rules' "
                      f"{rule.vote}: a model never loosens a verdict; the rule answer stands")
            return rule
        new = [c for c in answer.concerns if c not in texts]
        if vote == rule.vote and not new:
            self.done(turn, "accepted", "agrees with the rule answer")
            return rule
        self.done(turn, "accepted", f"vote {rule.vote} -> {vote}; {len(new)} new concern(s)")
        return rule.model_copy(update={"vote": vote,
                                       "notes": rule.notes + [f"model: {c}" for c in new]})


class ModelCritic(ModelBackend):
    """Critique with a model around the rule Critic."""

    role = "critic"
    instructions = ("You are the Critic. Answer three questions about the plan: what else "
                    "could explain this (alternative), what evidence is missing "
                    "(missing_evidence), what could this action break (breakage). A critical "
                    "challenge means the plan must not run.")

    def __init__(self, rules: Critic, runtime: Any, mode: ModelMode) -> None:
        super().__init__(runtime, mode)
        self.rules = rules

    async def critique(self, ctx: DebateContext, diagnosis: DiagnosisReport,
                       plan: ActionPlan) -> CriticReport:
        """Return the rule critique, with checked model challenges and a stricter vote."""
        rule = await self.rules.critique(ctx, diagnosis, plan)
        if rule.vote == "abstain" or not plan.candidates:
            return rule
        shown = {"vote": rule.vote, "challenges": [
            {"question": c.question, "text": c.text[:400], "severity": c.severity,
             "about": None} for c in rule.challenges[:6]]}
        answer, turn = await self.consult(ctx, "Challenge the plan.", shown, CritiqueAnswer,
                                          _plan_text(plan))
        if answer is None:
            self.done(turn)
            return rule
        try:
            places = places_of(ctx.evidence, diagnosis)
            for c in answer.challenges:
                if c.about:
                    require_place(places, "", c.about, "challenge about")
            require_clean([c.text for c in answer.challenges], "a challenge")
        except Rejected as exc:
            self.done(turn, "rejected", f"{exc}; the rule answer stands")
            return rule
        vote = stricter(rule.vote, answer.vote)
        if vote != answer.vote:
            self.done(turn, "rejected", f"its {answer.vote} is looser than the rules' "
                      f"{rule.vote}: a model never loosens a verdict; the rule answer stands")
            return rule
        known = {(c.question, c.text[:400]) for c in rule.challenges}
        new = [Challenge(question=c.question, text=f"model: {c.text}", severity=c.severity)
               for c in answer.challenges if (c.question, c.text) not in known]
        if vote == rule.vote and not new:
            self.done(turn, "accepted", "agrees with the rule answer")
            return rule
        self.done(turn, "accepted", f"vote {rule.vote} -> {vote}; {len(new)} new challenge(s)")
        return CriticReport(vote=vote, challenges=rule.challenges + new)
