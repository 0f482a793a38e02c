"""What the orchestrator needs from each agent: one method per role, any backend behind it.

A rule backend and a language-model backend implement the same protocol, so the orchestrator
never changes when one is swapped for the other.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel

from warroom.agents.models import ActionPlan, CriticReport, DiagnosisReport, ReviewVerdict
from warroom.sensors.models import EvidenceSnapshot


class DebateContext(BaseModel):
    """The caller's facts for one debate; ids and permissions never come from model output."""

    session_id: str
    incident_id: str | None = None
    namespace: str = ""
    service: str = ""
    priority: str = "P3"
    title: str = ""
    evidence: EvidenceSnapshot
    service_teams: dict[str, str] = {}
    critical_namespaces: list[str] = []
    # "fault/action_type" -> learned trust in 0..1 (see warroom.learn)
    playbook_trust: dict[str, float] = {}


class Diagnostician(Protocol):
    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        """Rank root-cause hypotheses with confidence and cited evidence."""
        ...


class Solver(Protocol):
    async def solve(self, ctx: DebateContext, diagnosis: DiagnosisReport) -> ActionPlan:
        """Propose catalogue actions for the top hypotheses, parameters filled from evidence."""
        ...


class Reviewer(Protocol):
    async def review(
        self, ctx: DebateContext, diagnosis: DiagnosisReport, plan: ActionPlan
    ) -> ReviewVerdict:
        """Check the top plan against the hard safety rules and its blast radius."""
        ...


class Critic(Protocol):
    async def critique(
        self, ctx: DebateContext, diagnosis: DiagnosisReport, plan: ActionPlan
    ) -> CriticReport:
        """Challenge the top plan: alternatives, missing evidence, what it could break."""
        ...
