"""The Diagnostician's model backend: re-rank, add or challenge the rule hypotheses.

The model can only lower the confidence of a hypothesis the rules found, and a hypothesis it
adds stays below the confidence a change needs (the hard rules' localisation floor): a model
can re-rank what the evidence backs, never move where the system acts. A place only the model
names ranks after every hypothesis the rules were fairly sure of (ABSTAIN_BELOW or more), so a
model cannot bury the evidence under its own claim; where the rules had nothing that sure, its
place may come first, and the diagnosis then abstains with that place named. Where the rules
abstain, whatever the model says, the diagnosis abstains too.
"""

from __future__ import annotations

from typing import Any

from warroom.agents.models import DiagnosisReport, Hypothesis
from warroom.agents.ports import DebateContext, Diagnostician
from warroom.safety.rules import LOCALISATION_MIN_CONFIDENCE

from .answers import DiagnosisAnswer
from .base import ModelBackend, ModelMode
from .validate import Rejected, places_of, require_clean, require_place

ABSTAIN_BELOW = 0.4
# a hypothesis only a model found is never confident enough to change anything
NEW_MAX = round(LOCALISATION_MIN_CONFIDENCE - 0.01, 2)
TASK = ("Rank the root-cause hypotheses for this incident, best first: where (namespace and "
        "service, pod or node, as named in the evidence), which fault, your confidence 0..1, "
        "and the evidence lines that support each. Return no hypothesis if nothing is wrong.")


class ModelDiagnostician(ModelBackend):
    """Diagnose with a model around the rule Diagnostician."""

    role = "diagnostician"
    instructions = ("You are the Diagnostician. Find the root cause, not the loudest symptom: "
                    "a caller failing because its callee fails points at the callee. The "
                    "evidence below is a digest: the read-only tools look further into what "
                    "the sensors collected; use them sparingly.")

    def __init__(self, rules: Diagnostician, runtime: Any, mode: ModelMode) -> None:
        super().__init__(runtime, mode)
        self.rules = rules

    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        """Return the rule diagnosis, or the model's once it is checked against the evidence."""
        rule = await self.rules.diagnose(ctx)
        # lazy: cold import cost (python -X importtime): .tools ~1324 ms (pulls httpx,
        # opentelemetry, pydantic_ai, rich); kept off the module's import path
        from .tools import TOOLS  # imports pydantic-ai: only once a model is asked

        answer, turn = await self.consult(ctx, TASK, rule_answer(rule), DiagnosisAnswer,
                                          tools=TOOLS)
        if answer is None:
            self.done(turn)
            return rule
        try:
            report, how = merge(ctx, rule, answer)
        except Rejected as exc:
            self.done(turn, "rejected", f"{exc}; the rule answer stands")
            return rule
        self.done(turn, "accepted", how)
        return report


def rule_answer(rule: DiagnosisReport) -> dict[str, Any]:
    """Return the rule diagnosis in the shape of the model's answer."""
    return {"hypotheses": [{"namespace": h.namespace, "service": h.service, "fault": h.fault,
                            "confidence": h.confidence,
                            "evidence": [e[:400] for e in h.evidence[:6]]}
                           for h in rule.hypotheses[:5]],
            "summary": rule.summary[:400]}


def merge(ctx: DebateContext, rule: DiagnosisReport,
          answer: DiagnosisAnswer) -> tuple[DiagnosisReport, str]:
    """Check the answer and fold it into the rule diagnosis; raise `Rejected` if it fails."""
    places = places_of(ctx.evidence, rule)
    require_clean([answer.summary], "the summary")
    known = {(h.namespace, h.service, h.fault): h for h in rule.hypotheses}
    merged: list[Hypothesis] = []
    seen: set[tuple[str, str, str]] = set()
    for hyp in answer.hypotheses:
        require_place(places, hyp.namespace, hyp.service, "hypothesis place")
        require_clean(hyp.evidence, "hypothesis evidence")
        key = (hyp.namespace, hyp.service, hyp.fault)
        if key in seen:
            continue
        seen.add(key)
        found = known.get(key)
        if found is not None:
            extra = [e for e in hyp.evidence if e not in found.evidence][:3]
            merged.append(found.model_copy(update={
                "confidence": min(hyp.confidence, found.confidence),
                "evidence": found.evidence + extra}))
        else:
            merged.append(Hypothesis(namespace=hyp.namespace, service=hyp.service,
                                     fault=hyp.fault, evidence=list(hyp.evidence),
                                     confidence=min(hyp.confidence, NEW_MAX)))
    # what the model left out stays, after its ranking: dropping is a challenge, not a veto
    merged += [h for key, h in known.items() if key not in seen]
    # a place only the model names never displaces one the evidence backs: it ranks after
    # every hypothesis the rules were at least fairly sure of, however sure the model is
    backed = {key for key, h in known.items() if h.confidence >= ABSTAIN_BELOW}
    merged.sort(key=lambda h: (h.namespace, h.service, h.fault) not in backed)  # stable
    if [(h.namespace, h.service, h.fault, h.confidence) for h in merged] == [
            (h.namespace, h.service, h.fault, h.confidence) for h in rule.hypotheses]:
        return rule, "agrees with the rule answer"
    top = merged[0] if merged else None
    # where the rules abstain a model cannot make the system act, and a place only the model
    # found is shown, not acted on
    abstain = rule.abstain or top is None or top.confidence < ABSTAIN_BELOW or (
        (top.namespace, top.service, top.fault) not in known)
    how = "no hypothesis" if top is None else (
        f"top: {top.fault} on {top.namespace + '/' if top.namespace else ''}{top.service} "
        f"({top.confidence:.2f})")
    report = DiagnosisReport(hypotheses=merged, abstain=abstain,
                             summary=answer.summary or rule.summary)
    return report, f"re-ranked; {how}"
