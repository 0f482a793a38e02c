"""A plain-language summary of an incident for the humans on call.

The routed `summary` model writes it from the decision and the evidence; without a model (or
when it is late, fails or repeats an instruction) a rule template does. It is asked only in
the time the debate left of its global deadline, so it never delays a decision past it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from warroom.agents.llm.answers import SummaryAnswer
from warroom.agents.llm.prompts import SAFETY, build_prompt, render_evidence
from warroom.agents.models import DecisionPackage, ModelTurn
from warroom.agents.ports import DebateContext
from warroom.agents.summary import rule_summary
from warroom.safety.sanitize import FENCE_OPEN, looks_like_instruction

TASK = ("Write three or four plain sentences for the on-call engineer: what is failing and "
        "where, the most likely cause and how sure we are, what warroom proposes and whether "
        "a human must approve it. No commands, no markdown.")


async def write_summary(ctx: DebateContext, package: DecisionPackage,
                        runtime: Any | None) -> tuple[str, str, ModelTurn | None]:
    """Return (summary, "model" or "rules", the model's turn when one was asked)."""
    template = rule_summary(ctx, package)
    if runtime is None:
        return template, "rules", None
    decided = package.model_dump_json(include={
        "status", "action", "risk", "requires_human_approval", "confidence", "outcome"})
    facts = f"The decision: {decided}"
    evidence = render_evidence(ctx.evidence, runtime.settings.llm_evidence_chars // 2)
    prompt = build_prompt("summary", "hybrid", ctx, TASK, evidence, {"summary": template},
                          facts)
    answer, turn = await runtime.ask(role="summary", mode="summary",
                                     instructions=f"{SAFETY}\nYou write incident summaries.",
                                     prompt=prompt, output_type=SummaryAnswer,
                                     evidence_digest=hashlib.sha256(
                                         evidence.encode()).hexdigest())
    if answer is None:
        return template, "rules", turn
    if FENCE_OPEN in answer.summary or looks_like_instruction(answer.summary):
        return template, "rules", turn.model_copy(update={
            "status": "rejected", "reason": "the summary repeats instruction-like text"})
    return answer.summary, "model", turn
