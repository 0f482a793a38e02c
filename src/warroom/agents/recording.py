"""Per-debate and per-turn scopes that model-backed agents report into.

The orchestrator opens a scope for the debate (its deadline, and providers that already failed
in it) and one for each turn (its deadline, and what a model said). A model backend reads the
deadline to leave room for the rule answer, and records its `ModelTurn`; the orchestrator puts
that record on the agent's turn. Context variables keep concurrent turns (Reviewer and Critic)
apart without the ports changing.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

from warroom.agents.models import ModelTurn

Backend = Literal["rules", "llm", "hybrid"]


@dataclass
class DebateScope:
    """One debate: its global deadline and the provider chains that failed during it."""

    deadline_at: float  # time.monotonic() seconds
    tripped: dict[str, str] = field(default_factory=dict)  # chain key -> why it failed


@dataclass
class TurnScope:
    """One agent turn: its deadline and the model record its backend leaves."""

    deadline_at: float
    model: ModelTurn | None = None
    backend: Backend = "rules"


DEBATE: ContextVar[DebateScope | None] = ContextVar("warroom_debate_scope", default=None)
TURN: ContextVar[TurnScope | None] = ContextVar("warroom_turn_scope", default=None)


def remaining(reserve: float) -> float:
    """Return the seconds a model may still take in this turn, keeping `reserve` back."""
    now = time.monotonic()
    ends = [s.deadline_at for s in (TURN.get(), DEBATE.get()) if s is not None]
    if not ends:
        return float("inf")
    return min(ends) - now - reserve


def record(turn: ModelTurn, backend: Backend) -> None:
    """Leave what the model said on the current turn (a no-op outside a debate)."""
    scope = TURN.get()
    if scope is not None:
        scope.model = turn
        scope.backend = backend


def tripped(chain: str) -> str | None:
    """Return why this provider chain already failed in this debate, if it did."""
    scope = DEBATE.get()
    return scope.tripped.get(chain) if scope is not None else None


def trip(chain: str, why: str) -> None:
    """Remember for the rest of the debate that a provider chain hung or failed."""
    scope = DEBATE.get()
    if scope is not None:
        scope.tripped.setdefault(chain, why)
