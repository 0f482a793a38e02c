"""What the debate needs from the language models, which sit above it in `warroom.llm`.

`ModelRuntime` is what the model backends ask (`warroom.llm.service.ModelRuntime`);
`LanguageModels` is what an analysis opens and records through (`warroom.llm.debate`). The
composition root hands them in; the debate never imports `warroom.llm`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from warroom.agents.models import DecisionPackage, ModelTurn
from warroom.agents.ports import DebateContext
from warroom.config import Settings
from warroom.sensors.ports import Sensor

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from warroom.agents.orchestrator import Backends

    from .tools import LiveSensors

T = TypeVar("T", bound=BaseModel)


class ModelRuntime(Protocol):
    """Asks a role's provider chain one structured question; never raises."""

    settings: Settings
    # the analysis's sensors, asked again by the investigation tools (None: read the snapshot)
    live: LiveSensors | None

    def rendered(self, key: int, render: Callable[[], str]) -> tuple[str, str]:
        """Return text rendered once per analysis (the evidence) and its sha256."""
        ...

    async def ask(self, *, role: str, mode: Literal["llm", "hybrid", "summary"],
                  instructions: str, prompt: str, output_type: type[T], evidence_digest: str,
                  tools: tuple[Any, ...] = (), deps: Any = None) -> tuple[T | None, ModelTurn]:
        """Return the role's typed answer (or none) and the turn that says what happened."""
        ...


class ModelRun(Protocol):
    """The language models of one analysis: its backends, its summary, what it leaves behind."""

    backends: Backends

    def investigate_live(self, sensors: list[Sensor]) -> None:
        """Let the models' investigation tools ask these sensors again (not in a replay)."""
        ...

    async def summarize(self, ctx: DebateContext,
                        package: DecisionPackage) -> tuple[str, str, ModelTurn | None]:
        """Return (summary, "model" or "rules", the model's turn when one was asked)."""
        ...

    async def finish(self, session: AsyncSession) -> None:
        """Keep what the analysis's models leave behind (cached answers); close their clients."""
        ...


class LanguageModels(Protocol):
    """The language-model side of the debate (`warroom.llm.debate.LanguageModels`)."""

    def open(self, session: AsyncSession, settings: Settings) -> ModelRun:
        """Return the models one analysis uses, as the settings choose them."""
        ...

    async def save_turns(self, session: AsyncSession, *, incident_id: str, session_id: str,
                         turns: list[tuple[str, ModelTurn]]) -> None:
        """Record the language-model turns of one analysis."""
        ...

    async def usage(self, session: AsyncSession, incident_id: str) -> Any:
        """Return the language-model turns of every analysis of the incident, with totals."""
        ...
