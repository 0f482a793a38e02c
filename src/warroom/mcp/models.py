"""What the MCP tools answer: one structured result per call, never a bare string.

Every result says how the call went (`status`, `error`), exactly what was asked (`tool`,
`parameters`, `queries`) and, when nothing matched, what was searched (`note`), so the model or
person on the other end can correct the question instead of guessing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from warroom.agents.models import Hypothesis

ToolStatus = Literal["ok", "empty", "not_found", "unavailable", "error"]


class ToolResult(BaseModel):
    """How one tool call went: status, the exact query and parameters, and why on failure."""

    tool: str
    status: ToolStatus
    parameters: dict[str, Any] = {}
    queries: list[str] = []
    error: str | None = None
    note: str = ""  # e.g. "searched 12 incidents for 'checkout', found nothing"


class IncidentSummary(BaseModel):
    """One incident line: who, where, how urgent, and its newest decision's status."""

    id: str
    status: str
    priority: str
    namespace: str
    service: str
    title: str
    opened_at: datetime
    resolved_at: datetime | None = None
    decision_status: str | None = None


class IncidentList(ToolResult):
    total: int = 0
    incidents: list[IncidentSummary] = []


class EvidenceResult(ToolResult):
    """An incident's latest evidence snapshot, as sanitized and stored before the debate."""

    incident_id: str = ""
    snapshot_id: str | None = None
    taken_at: datetime | None = None
    counts: dict[str, int] = {}
    snapshot: dict[str, Any] = {}


class AgentTurnView(BaseModel):
    role: str
    vote: str | None = None
    degraded: bool = False
    error: str | None = None
    latency_ms: float = 0.0
    output: dict[str, Any] = {}


class VerificationView(BaseModel):
    verdict: str
    score: float
    at: datetime
    details: dict[str, Any] = {}


class DecisionView(BaseModel):
    token: str
    status: str
    action: dict[str, Any] | None = None  # as stored: old records may predate today's catalogue
    fault: str | None = None
    created_at: datetime
    verifications: list[VerificationView] = []


class DebateResult(ToolResult):
    """The latest debate of an incident: hypotheses, each agent's turn, decision, verification."""

    incident_id: str = ""
    session_id: str | None = None
    hypotheses: list[Hypothesis] = []
    summary: str = ""
    package: dict[str, Any] = {}
    turns: list[AgentTurnView] = []
    decisions: list[DecisionView] = []


class PastIncident(BaseModel):
    """A past incident alike this one: what was done, how it ended, how trusted that fix is."""

    incident_id: str
    title: str = ""
    namespace: str = ""
    service: str = ""
    fault: str = ""
    action: str = ""
    outcome: str = ""
    similarity: float = 0.0
    playbook_trust: float | None = None


class SimilarResult(ToolResult):
    similar: list[PastIncident] = []


class AuditEntry(BaseModel):
    seq: int
    at: datetime
    kind: str
    actor: str
    decision_token: str | None = None
    payload: dict[str, Any] = {}


class AuditResult(ToolResult):
    """An incident's audit rows in chain order, and whether the whole chain still verifies."""

    incident_id: str = ""
    total: int = 0
    chain_ok: bool | None = None
    events: list[AuditEntry] = []


class SeriesView(BaseModel):
    metric: dict[str, str]
    values: list[tuple[float, str]]


class SeriesResult(ToolResult):
    series: list[SeriesView] = []


class EventsResult(ToolResult):
    events: list[dict[str, Any]] = []


class LogsResult(ToolResult):
    namespace: str = ""
    pod: str = ""
    container: str = ""
    previous: bool = False
    lines: list[str] = []
