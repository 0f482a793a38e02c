"""What the model backends need from a language-model runtime (`warroom.llm.service` builds it).

The runtime (provider chains, the response cache, tracing) sits above the debate, in
`warroom.llm`; the backends here only ask it, so the composition root hands them one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from warroom.agents.models import ModelTurn
from warroom.config import Settings

if TYPE_CHECKING:
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
