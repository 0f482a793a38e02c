"""Scripted models and a debate harness for the model backends' tests (no real requests)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pydantic_ai import models
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from warroom.agents.critic import RuleCritic
from warroom.agents.llm.diagnostician import ModelDiagnostician
from warroom.agents.llm.judges import ModelCritic, ModelReviewer
from warroom.agents.llm.prompts import parse_header
from warroom.agents.llm.solver import ModelSolver
from warroom.agents.models import DiagnosisReport
from warroom.agents.orchestrator import Backends, Debate, run_debate
from warroom.agents.ports import DebateContext
from warroom.agents.reviewer import RuleReviewer
from warroom.agents.solver import RuleSolver
from warroom.config import Settings
from warroom.llm.scripted import first_prompt, rule_answer
from warroom.llm.service import ModelRuntime

models.ALLOW_MODEL_REQUESTS = False

# role -> what the model answers: a dict (the structured answer), a str (free text), or a
# callable(prompt) returning either; a role not listed agrees with the rule answer
Script = dict[str, Any]


class FixedDiagnostician:
    def __init__(self, report: DiagnosisReport) -> None:
        self.report = report

    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        return self.report


class Scripted:
    """A FunctionModel that answers per role and remembers every prompt it was sent."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.prompts: dict[str, list[str]] = {}
        self.model = FunctionModel(self._respond, model_name="scripted")

    async def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = first_prompt(messages)
        role = parse_header(prompt).get("role", "")
        self.prompts.setdefault(role, []).append(prompt)
        answer = self.script.get(role, "__agree__")
        if callable(answer):
            answer = answer(prompt)
            if isinstance(answer, Awaitable):
                answer = await answer
        if answer == "__agree__":
            answer = rule_answer(prompt)
        if isinstance(answer, str):
            return ModelResponse(parts=[TextPart(answer)])
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer)])


Run = Callable[..., Awaitable[Debate]]


@pytest.fixture
def debate_with() -> Run:
    async def run(ctx: DebateContext, report: DiagnosisReport, model: Any = None, *,
                  mode: str = "hybrid", agent_deadline: float = 5, debate_deadline: float = 10,
                  reserve: float = 0.2, solver: Any = None) -> Debate:
        rule_solver = solver or RuleSolver()
        if model is None:  # rules only, for comparison
            backends = Backends(diagnostician=FixedDiagnostician(report), solver=rule_solver,
                                reviewer=RuleReviewer(), critic=RuleCritic())
        else:
            settings = Settings(_env_file=None, llm_reserve_seconds=reserve,  # type: ignore[call-arg]
                                llm_cache_ttl_seconds=0)
            runtime = ModelRuntime(settings, model=model)
            m: Any = mode
            backends = Backends(
                diagnostician=ModelDiagnostician(FixedDiagnostician(report), runtime, m),
                solver=ModelSolver(rule_solver, runtime, m),
                reviewer=ModelReviewer(RuleReviewer(), runtime, m),
                critic=ModelCritic(RuleCritic(), runtime, m))
        return await run_debate(ctx, backends, agent_deadline=agent_deadline,
                                debate_deadline=debate_deadline)

    return run
