"""Protocol types of the debate: what each agent says, and the decision package it ends in."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Fault = Literal[
    "memory_leak", "memory_limit_too_low", "cpu_saturation", "traffic_surge", "bad_deploy",
    "application_error", "config_error", "image_pull_error", "probe_failure",
    "external_dependency", "network_latency", "dns_failure", "database_saturation",
    "disk_pressure", "node_failure", "unschedulable", "certificate_expired", "none",
]
FAULTS: tuple[str, ...] = Fault.__args__  # type: ignore[attr-defined]
# faults where no action may ever run without a human: part of the catalogue, read by the
# Coordinator whichever Solver backend proposed the plan
HUMAN_REQUIRED: frozenset[str] = frozenset({
    "config_error", "external_dependency", "dns_failure", "database_saturation", "disk_pressure",
    "certificate_expired", "network_latency", "node_failure", "unschedulable",
})

ActionType = Literal[
    "rollout_restart", "rollout_undo", "scale", "set_resources", "delete_pod", "cordon_node",
    "drain_node", "set_hpa", "escalate", "no_action",
]
ACTION_TYPES: tuple[str, ...] = ActionType.__args__  # type: ignore[attr-defined]

Vote = Literal["approve", "request_revision", "reject", "abstain"]
Risk = Literal["low", "medium", "high", "critical"]
Role = Literal["diagnostician", "solver", "reviewer", "critic", "coordinator"]
Team = Literal["FE", "BE", "INFRA", "DB", "COLLAB"] | str
DecisionStatus = Literal["ready", "blocked", "timeout", "failed"]
Severity = Literal["info", "warning", "critical"]


class Hypothesis(BaseModel):
    """One candidate root cause, with the evidence that supports it."""

    namespace: str
    service: str
    fault: Fault
    confidence: float = Field(ge=0, le=1)
    evidence: list[str] = []


class DiagnosisReport(BaseModel):
    hypotheses: list[Hypothesis] = []  # ranked, best first
    abstain: bool = False  # true when the best hypothesis is under 0.4
    summary: str = ""


class Action(BaseModel):
    """A catalogue action: the only thing that can ever execute."""

    type: ActionType
    target: str | None = None  # namespace/kind/name, lower-case kind; nodes: "/node/NAME"
    params: dict[str, Any] = {}


class CandidateAction(BaseModel):
    action: Action
    hypothesis: int = 0  # index into DiagnosisReport.hypotheses
    risk: Risk = "medium"
    blast_radius: int = Field(default=0, ge=0, le=100)
    rationale: str = ""
    kubectl: str = ""  # the equivalent command, for the humans reading it


class FollowUp(BaseModel):
    """A preventive change the Solver suggests: shown to humans, never executed."""

    title: str
    kind: Literal["hpa", "resources", "probes", "connection_pool", "circuit_breaker", "other"]
    change: str  # the exact manifest patch or kubectl command


class ActionPlan(BaseModel):
    candidates: list[CandidateAction] = []  # ranked, best first
    followups: list[FollowUp] = []


class RuleViolation(BaseModel):
    rule: str
    message: str


class ReviewVerdict(BaseModel):
    vote: Vote
    violations: list[RuleViolation] = []
    blast_radius: int = Field(default=0, ge=0, le=100)
    notes: list[str] = []


class Challenge(BaseModel):
    question: Literal["alternative", "missing_evidence", "breakage"]
    text: str
    severity: Severity = "info"


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


class DecisionPackage(BaseModel):
    """What the debate decided: the action, who must approve it, and why."""

    status: DecisionStatus
    action: Action | None = None
    requires_human_approval: bool = True
    risk: Risk = "high"
    blast_radius: int = Field(default=0, ge=0, le=100)
    confidence: float = Field(default=0.0, ge=0, le=1)
    blocked_reason: str | None = None
    summary: str = ""
    outcome: str = ""  # which gate of the Coordinator produced it
    team: str = "COLLAB"
    followups: list[FollowUp] = []
    hypotheses: list[Hypothesis] = []
    # the fault class the action addresses, for playbook trust (fault x action type)
    fault: Fault | None = None
