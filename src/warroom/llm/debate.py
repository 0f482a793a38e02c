"""The language models of the debate: `warroom.llm`'s side of the agents' `LanguageModels` port.

The composition root (the workflow runtime, the API's detail providers, the command line's
replays) hands `LanguageModels()` to `agents.service`, which never imports `warroom.llm`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.agents.llm.backends import backends_for
from warroom.agents.models import DecisionPackage, ModelTurn
from warroom.agents.orchestrator import Backends, rule_backends
from warroom.agents.ports import DebateContext
from warroom.config import Settings
from warroom.llm import repository
from warroom.llm.service import ModelRuntime
from warroom.llm.summary import write_summary
from warroom.sensors.ports import Sensor

MODEL_ROLES = ("diagnostician", "solver", "reviewer", "critic")


class ModelRun:
    """One analysis's models: the backends the settings choose and, with a provider, the runtime."""

    def __init__(self, backends: Backends, runtime: ModelRuntime | None,
                 settings: Settings) -> None:
        self.backends = backends
        self.runtime = runtime
        self.settings = settings

    def investigate_live(self, sensors: list[Sensor]) -> None:
        """Let the models' investigation tools ask the analysis's own sensors again."""
        if self.runtime is None:
            return
        # lazy: cold import cost (python -X importtime): warroom.agents.llm.tools ~1387 ms (pulls
        # httpx, opentelemetry, pydantic_ai, rich); kept off the module's import path
        from warroom.agents.llm.tools import LiveSensors

        self.runtime.live = LiveSensors(
            sensors, timeout=self.settings.sensor_timeout_seconds,
            lookback_seconds=self.settings.evidence_lookback_seconds)

    async def summarize(self, ctx: DebateContext,
                        package: DecisionPackage) -> tuple[str, str, ModelTurn | None]:
        """Return (summary, "model" or "rules", the model's turn when one was asked)."""
        return await write_summary(ctx, package, self.runtime)

    async def finish(self, session: AsyncSession) -> None:
        """Store the answers worth caching and close the provider clients."""
        if self.runtime is None:
            return
        await repository.store_answers(session, self.runtime.cache, self.runtime.pending,
                                       ttl_seconds=self.settings.llm_cache_ttl_seconds)
        await self.runtime.aclose()


class LanguageModels:
    """Opens each analysis's models and keeps the record of their turns."""

    def open(self, session: AsyncSession, settings: Settings) -> ModelRun:
        """Return the backends the settings choose, and the model runtime when a model is set."""
        runtime = None
        if settings.llm_chain_providers:
            runtime = ModelRuntime(settings, cache_get=repository.cache_reader(session, settings))
        if all(settings.backend_for(r) == "rules" for r in MODEL_ROLES):
            return ModelRun(rule_backends(), runtime, settings)

        return ModelRun(backends_for(settings, runtime or ModelRuntime(settings)), runtime,
                        settings)

    async def save_turns(self, session: AsyncSession, *, incident_id: str, session_id: str,
                         turns: list[tuple[str, ModelTurn]]) -> None:
        """Record the language-model turns of one analysis (tokens, cost, cache hits)."""
        await repository.save_turns(session, incident_id=incident_id, session_id=session_id,
                                    turns=turns)

    async def usage(self, session: AsyncSession, incident_id: str) -> Any:
        """Return the language-model turns of every analysis of the incident."""
        return await repository.usage_for(session, incident_id)
