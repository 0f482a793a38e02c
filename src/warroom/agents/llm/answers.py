"""The structured answers a model must give: small, bounded, no field the caller owns.

Unknown fields are refused (a nested or re-shaped answer fails validation rather than passing
as an empty one); every list and string is bounded, so an enormous answer fails too. Parameters
of actions are never asked for: they are filled from the evidence by the rule Solver's code.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from warroom.agents.models import ActionType, Fault, Severity

Text = Annotated[str, StringConstraints(max_length=400)]
Name = Annotated[str, StringConstraints(max_length=253)]


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HypothesisAnswer(Answer):
    namespace: Name = ""
    service: Name
    fault: Fault
    confidence: float = Field(ge=0, le=1)
    evidence: list[Text] = Field(default=[], max_length=6)


class DiagnosisAnswer(Answer):
    """Ranked root-cause hypotheses, best first."""

    hypotheses: list[HypothesisAnswer] = Field(default=[], max_length=5)
    summary: Text = ""


class CandidateChoice(Answer):
    type: ActionType
    hypothesis: int = Field(default=0, ge=0, le=4)  # index into the diagnosis' hypotheses
    target: Annotated[str, StringConstraints(max_length=600)] | None = None


class PlanAnswer(Answer):
    """Catalogue actions, best first; parameters are filled from the evidence, not by you."""

    candidates: list[CandidateChoice] = Field(default=[], max_length=6)
    rationale: Text = ""


class ReviewAnswer(Answer):
    """A vote on the plan's first action, the concerns behind it, and what they are about."""

    vote: Literal["approve", "request_revision", "reject"]
    concerns: list[Text] = Field(default=[], max_length=5)
    about: list[Name] = Field(default=[], max_length=5)  # services, pods or nodes concerned


class ChallengeAnswer(Answer):
    question: Literal["alternative", "missing_evidence", "breakage"]
    text: Text
    severity: Severity = "info"
    about: Name | None = None  # the service, pod or node the challenge is about


class CritiqueAnswer(Answer):
    """A vote on the plan and challenges: alternatives, missing evidence, what it could break."""

    vote: Literal["approve", "request_revision", "reject"]
    challenges: list[ChallengeAnswer] = Field(default=[], max_length=6)


class SummaryAnswer(Answer):
    """A short plain-language summary of the incident for the humans on call."""

    summary: Annotated[str, StringConstraints(min_length=1, max_length=1200)]
