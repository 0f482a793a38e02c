"""Protocol types of the debate: what each agent says, and the decision package it ends in."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# the domain vocabulary the debate speaks, re-exported: the debate's modules import it from here
from warroom.domain.models import (
    ACTION_TYPES,
    FAULTS,
    HUMAN_REQUIRED,
    Action,
    ActionType,
    Challenge,
    DecisionPackage,
    DecisionStatus,
    Fault,
    FollowUp,
    Hypothesis,
    Risk,
    RuleViolation,
    Severity,
    Team,
)

Vote = Literal["approve", "request_revision", "reject", "abstain"]
Role = Literal["diagnostician", "solver", "reviewer", "critic", "coordinator"]


class DiagnosisReport(BaseModel):
    hypotheses: list[Hypothesis] = []  # ranked, best first
    abstain: bool = False  # true when the best hypothesis is under 0.4
    summary: str = ""


class CandidateAction(BaseModel):
    action: Action
    hypothesis: int = 0  # index into DiagnosisReport.hypotheses
    risk: Risk = "medium"
    blast_radius: int = Field(default=0, ge=0, le=100)
    rationale: str = ""
    kubectl: str = ""  # the equivalent command, for the humans reading it


class ActionPlan(BaseModel):
    candidates: list[CandidateAction] = []  # ranked, best first
    followups: list[FollowUp] = []


class ReviewVerdict(BaseModel):
    vote: Vote
    violations: list[RuleViolation] = []
    blast_radius: int = Field(default=0, ge=0, le=100)
    notes: list[str] = []


class CriticReport(BaseModel):
    vote: Vote
    challenges: list[Challenge] = []


ModelStatus = Literal["accepted", "rejected", "failed", "timeout", "skipped"]
# a model that failed, was late or was not asked: the agent fell back to its rule answer
MODEL_FELL_BACK: frozenset[str] = frozenset({"failed", "timeout", "skipped"})


class ModelTurn(BaseModel):
    """What a language model said in one agent turn, and whether its answer was used."""

    mode: Literal["llm", "hybrid", "summary"]
    status: ModelStatus
    reason: str = ""  # why rejected, failed or skipped; what changed when accepted
    chain: list[str] = []  # the providers asked, in order
    model: str = ""  # the model that answered
    said: Any = None  # the model's answer (capped), or its raw text when it was unusable
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    latency_ms: float = 0.0
    # investigation tools the model called: name, arguments, the query and how much it found
    tools: list[dict[str, Any]] = []


class AgentTurn(BaseModel):
    """One agent's turn, as the audit trail and `warroom replay` show it."""

    role: Role
    vote: Vote
    degraded: bool = False
    latency_ms: float = 0.0
    error: str | None = None
    output: dict[str, Any] | None = None
    backend: Literal["rules", "llm", "hybrid"] = "rules"
    model: ModelTurn | None = None  # set when a language model took part


__all__ = [
    "ACTION_TYPES", "FAULTS", "HUMAN_REQUIRED", "MODEL_FELL_BACK", "Action", "ActionPlan",
    "ActionType", "AgentTurn", "CandidateAction", "Challenge", "CriticReport", "DecisionPackage",
    "DecisionStatus", "DiagnosisReport", "Fault", "FollowUp", "Hypothesis", "ModelStatus",
    "ModelTurn", "ReviewVerdict", "Risk", "Role", "RuleViolation", "Severity", "Team", "Vote",
]
