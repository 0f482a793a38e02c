"""What the four model backends share: the prompt, the question, the record."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from warroom.agents import recording
from warroom.agents.models import ModelTurn
from warroom.agents.ports import DebateContext

from .ports import ModelRuntime
from .prompts import SAFETY, build_prompt, render_evidence

T = TypeVar("T", bound=BaseModel)
ModelMode = Literal["llm", "hybrid"]
VOTE_ORDER = {"approve": 0, "request_revision": 1, "reject": 2}


def stricter(rule: str, model: str) -> Any:
    """Return the stricter of two votes: a model may tighten a verdict, never loosen it."""
    return model if VOTE_ORDER.get(model, -1) > VOTE_ORDER.get(rule, -1) else rule


class ModelBackend:
    """What the four model backends share: the prompt, the question, the record."""

    role = ""
    instructions = ""

    def __init__(self, runtime: ModelRuntime, mode: ModelMode) -> None:
        self.runtime = runtime
        self.mode = mode

    def evidence(self, ctx: DebateContext) -> tuple[str, str]:
        """Return the rendered evidence and its digest, rendered once per snapshot."""
        limit = self.runtime.settings.llm_evidence_chars
        return self.runtime.rendered(id(ctx.evidence),
                                     lambda: render_evidence(ctx.evidence, limit))

    async def consult(self, ctx: DebateContext, task: str, rule: dict[str, Any],
                      output_type: type[T], extra: str = "",
                      tools: tuple[Any, ...] = ()) -> tuple[T | None, ModelTurn]:
        """Ask the model; in hybrid mode it sees the rule answer, in llm mode it does not."""
        text, digest = self.evidence(ctx)
        prompt = build_prompt(self.role, self.mode, ctx, task, text,
                              rule if self.mode == "hybrid" else None, extra)
        deps = None
        if tools:
            # lazy: cold import cost (python -X importtime): .tools ~1262 ms (pulls httpx,
            # opentelemetry, pydantic_ai, rich); kept off the module's import path
            from .tools import Investigation

            deps = Investigation(evidence=ctx.evidence, live=self.runtime.live,
                                 namespace=ctx.namespace, incident_id=ctx.incident_id)
        return await self.runtime.ask(
            role=self.role, mode=self.mode, instructions=f"{SAFETY}\n{self.instructions}",
            prompt=prompt, output_type=output_type, evidence_digest=digest, tools=tools,
            deps=deps)

    def done(self, turn: ModelTurn, status: Literal["accepted", "rejected"] | None = None,
             reason: str = "") -> None:
        """Record the model turn on the agent's turn, with the final verdict on its answer."""
        if status is not None:
            turn = turn.model_copy(update={"status": status, "reason": reason[:500]})
        recording.record(turn, self.mode)
