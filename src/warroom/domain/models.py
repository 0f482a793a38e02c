"""The domain vocabulary every stage speaks: the catalogue and the decision package.

It sits below the contexts (and below `store`, whose typed JSON column stores the package), so
agents, safety, decisions, execute and verify share one set of types without importing each
other.
"""

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

Risk = Literal["low", "medium", "high", "critical"]
Team = Literal["FE", "BE", "INFRA", "DB", "COLLAB"] | str
DecisionStatus = Literal["ready", "blocked", "timeout", "failed"]
# the states a stored decision moves through (decisions.models holds the moves between them)
DecisionState = Literal[
    "analyzing", "ready", "approved", "rejected", "expired", "executing", "verifying",
    "completed", "failed",
]
ACTIVE_STATES: frozenset[str] = frozenset(
    {"analyzing", "ready", "approved", "executing", "verifying"}
)
TERMINAL_STATES: frozenset[str] = frozenset({"rejected", "expired", "completed", "failed"})
Severity = Literal["info", "warning", "critical"]


class Hypothesis(BaseModel):
    """One candidate root cause, with the evidence that supports it."""

    namespace: str
    service: str
    fault: Fault
    confidence: float = Field(ge=0, le=1)
    evidence: list[str] = []


class Action(BaseModel):
    """A catalogue action: the only thing that can ever execute."""

    type: ActionType
    target: str | None = None  # namespace/kind/name, lower-case kind; nodes: "/node/NAME"
    params: dict[str, Any] = {}


class FollowUp(BaseModel):
    """A preventive change the Solver suggests: shown to humans, never executed."""

    title: str
    kind: Literal["hpa", "resources", "probes", "connection_pool", "circuit_breaker", "other"]
    change: str  # the exact manifest patch or kubectl command


class RuleViolation(BaseModel):
    rule: str
    message: str


class Challenge(BaseModel):
    question: Literal["alternative", "missing_evidence", "breakage"]
    text: str
    severity: Severity = "info"


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

    def target_key(self) -> str:
        """Return `namespace/service` of what the package acts on (or its best hypothesis)."""
        parts = ((self.action.target if self.action else None) or "").split("/")
        if len(parts) == 3:
            return f"{parts[0]}/{parts[2]}"
        if self.hypotheses:
            return f"{self.hypotheses[0].namespace}/{self.hypotheses[0].service}"
        return ""


def human_must_decide(
    why: str, status: DecisionStatus, *, outcome: str, team: str = "COLLAB",
    hypotheses: list[Hypothesis] | None = None, confident: bool = False,
    followups: list[FollowUp] | None = None,
) -> DecisionPackage:
    """Return the package that hands the incident to a human: escalate, high risk, and why.

    Every fallback (a failed analysis, a debate past its deadline, a workflow that gave up on
    the debate) builds it here. `confident` says the best hypothesis may be trusted for its
    fault and confidence.
    """
    hyps = hypotheses or []
    best = hyps[0] if hyps and confident else None
    return DecisionPackage(
        status=status,
        action=Action(type="escalate", params={"reason": why[:500]}),
        requires_human_approval=True, risk="high", outcome=outcome, blocked_reason=why,
        summary=f"{why}. A human must decide.", team=team, hypotheses=hyps[:5],
        confidence=best.confidence if best else 0.0, fault=best.fault if best else None,
        followups=followups or [],
    )


class PolicyVerdict(BaseModel):
    """Whether the package may run on its own, how many approvers it needs, and why."""

    auto_execute: bool
    requires_approvals: int
    executable: bool
    reasons: list[str] = []  # every gate that kept it from auto-executing
    trust: float | None = None


class DebateExtras(BaseModel):
    """What the debate adds to its package for the people reading the decision."""

    session_id: str | None = None
    challenges: list[Challenge] = []  # the Critic's
    latency_ms: float | None = None
    incident_summary: str = ""  # for people: the summary model's, or the rule template's


class ReadyPackage(DecisionPackage, DebateExtras):
    """The package as a ready decision stores it: the debate's package, the policy's verdict
    and the debate's extras, in one flat JSON object (the shape the column has always held)."""

    policy: PolicyVerdict

    @classmethod
    def of(
        cls, package: DecisionPackage, *, policy: PolicyVerdict,
        extras: DebateExtras | None = None,
    ) -> ReadyPackage:
        """Fold the policy's verdict and the debate's extras into the package."""
        return cls(**dict(package), **dict(extras or DebateExtras()), policy=policy)


class ApiCall(BaseModel):
    """One Kubernetes API call, exactly as it is (or would be) sent, and its kubectl twin."""

    method: Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
    path: str  # e.g. /apis/apps/v1/namespaces/shop/deployments/checkout
    body: dict[str, Any] | list[Any] | None = None
    content_type: str = "application/json"  # or application/strategic-merge-patch+json, ...
    kubectl: str = ""
