"""The stats' typed answers, shared by the API, the CLI and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field, model_validator

from warroom.store.times import utc

MAX_DAYS = 3660


class StatsRange(BaseModel):
    """The period a figure covers, `[since, until)` in UTC, and the optional filters."""

    since: datetime
    until: datetime
    namespace: str | None = None
    service: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> StatsRange:
        self.since = utc(self.since)
        self.until = utc(self.until)
        if self.since >= self.until:
            raise ValueError(
                f"since ({self.since.isoformat()}) must be before until ({self.until.isoformat()})"
            )
        if self.until - self.since > timedelta(days=MAX_DAYS):
            raise ValueError(f"the range may cover at most {MAX_DAYS} days")
        return self

    @classmethod
    def last(cls, days: float, *, until: datetime | None = None, namespace: str | None = None,
             service: str | None = None) -> StatsRange:
        """Return the range of the last `days` days up to `until` (default: now)."""
        end = utc(until or datetime.now(UTC))
        return cls(since=end - timedelta(days=days), until=end, namespace=namespace or None,
                   service=service or None)

    @property
    def previous(self) -> StatsRange:
        """Return the period of the same length just before this one, with the same filters."""
        length = self.until - self.since
        return self.model_copy(update={"since": self.since - length, "until": self.since})


class Count(BaseModel):
    """How many items share one key (a status, a priority, a fault class, a team...)."""

    key: str
    count: int


class DayCount(BaseModel):
    """Incidents opened and resolved on one UTC day."""

    day: str = Field(description="YYYY-MM-DD, UTC")
    opened: int
    resolved: int


class IncidentStats(BaseModel):
    """Incidents opened in the range, counted by status, priority, fault class and team."""

    range: StatsRange
    total: int
    by_status: list[Count]
    by_priority: list[Count]
    by_fault: list[Count] = Field(description="fault class of the incident's decisions; "
                                  "'undiagnosed' when no decision named one")
    by_team: list[Count] = Field(description="team the decision package named; "
                                 "'undecided' when no package exists")
    per_day: list[DayCount]


class Percentiles(BaseModel):
    """Nearest-rank P50 and P95 and the maximum of a set of durations, in seconds."""

    count: int
    p50: float | None = None
    p95: float | None = None
    max: float | None = None


class DurationTrend(BaseModel):
    """One duration in this period and in the previous period of the same length."""

    name: str = Field(description="acknowledge | decision_ready | execution | recovery")
    current: Percentiles
    previous: Percentiles
    p50_change: float | None = Field(
        default=None, description="current P50 / previous P50 - 1 (negative: faster)")


class DayPercentiles(BaseModel):
    """Recovery time of the incidents opened on one UTC day."""

    day: str
    recovery: Percentiles


class ResolutionStats(BaseModel):
    """Time from an incident's opening to each milestone (recovery is the MTTR)."""

    range: StatsRange
    previous_range: StatsRange
    durations: list[DurationTrend]
    recovery_per_day: list[DayPercentiles]

    def get(self, name: str) -> DurationTrend:
        """Return one duration by name."""
        return next(d for d in self.durations if d.name == name)


class AgentLatency(BaseModel):
    """Latency of one agent role (or one backend) over its turns, in milliseconds."""

    name: str
    turns: int
    degraded: int
    p50_ms: float | None = None
    p95_ms: float | None = None


class DecisionFacts(BaseModel):
    """What became of the range's decisions beyond their outcome (each decision counts once)."""

    decisions: int = 0
    timed_out: int = 0
    approved_verified: int = 0
    approved_verified_success: int = 0
    human_rejections: int = 0
    different_action: int = 0
    challenges: int = 0
    challenges_proved_right: int = 0


class ModelUsage(BaseModel):
    """Language-model turns of one agent role (or one model) and their tokens and cost."""

    name: str = Field(description="the agent role, or the model that answered ('' if none)")
    turns: int
    cached: int = Field(description="turns answered from the response cache")
    input_tokens: int
    output_tokens: int
    cost_usd: float


class AiStats(BaseModel):
    """What the debates decided and how it went, for decisions opened in the range."""

    range: StatsRange
    decisions: int
    outcomes: list[Count] = Field(description="auto_executed | approved | rejected | expired | "
                                  "escalated | failed | pending; each decision counts once")
    timed_out: int = Field(description="decisions whose debate ran past its deadline")
    degraded: int = Field(description="debates in which at least one agent degraded")
    approved_verified: int = Field(description="approved decisions with a verification")
    approved_verified_success: int
    verification_success_share: float | None = None
    human_rejections: int
    different_action: int = Field(description="executions of another action than proposed")
    overrides: int
    challenges: int
    challenges_proved_right: int
    agents: list[AgentLatency]
    backends: list[AgentLatency]
    usage_by_agent: list[ModelUsage] = Field(
        default=[], description="language-model tokens and cost per agent role")
    usage_by_model: list[ModelUsage] = Field(
        default=[], description="language-model tokens and cost per model that answered")
    tokens: int = Field(default=0, description="input + output tokens of every model turn")
    cost_usd: float = Field(default=0.0, description="cost of every model turn, USD")


class ServiceStat(BaseModel):
    """One service's share of the incidents opened in the range."""

    namespace: str
    service: str
    incidents: int
    seconds_in_incident: float


class RootCandidateStat(BaseModel):
    """How often one service was an incident's root candidate, and how often it stayed silent."""

    namespace: str
    service: str
    incidents: int
    silent: int = Field(description="incidents in which the root candidate raised no alert")


class ServiceStats(BaseModel):
    """The most affected services (those whose alerts were in the incidents), by incident
    count and by time spent in incident, and the root candidates apart."""

    range: StatsRange
    by_count: list[ServiceStat]
    by_time: list[ServiceStat]
    root_candidates: list[RootCandidateStat] = []


class TrustPoint(BaseModel):
    """A playbook's trust at the end of one UTC day on which it learned."""

    day: str
    trust: float
    updates: int


class PlaybookTrend(BaseModel):
    """The trust of one (fault, action type) playbook over the range."""

    fault: str
    action_type: str
    trust: float | None = Field(description="trust now (None: the playbook row is gone)")
    points: list[TrustPoint]


class PlaybookStats(BaseModel):
    """Trust over time of every playbook that learned in the range."""

    range: StatsRange
    playbooks: list[PlaybookTrend]


class StatsReport(BaseModel):
    """Every figure at once, as `warroom stats` and the dashboard show them."""

    incidents: IncidentStats
    resolution: ResolutionStats
    ai: AiStats
    services: ServiceStats
    playbooks: PlaybookStats


def seconds_text(value: float | None) -> str:
    """Render a duration for people: `850 ms`, `42.0 s`, `12.5 min`, `3.2 h`, `2.1 d`."""
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.1f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


def change_text(value: float | None) -> str:
    """Render a relative change as `+12%` / `-30%` (`—` when there is nothing to compare)."""
    return "—" if value is None else f"{value * 100:+.0f}%"


def usd_text(value: float) -> str:
    """Render a cost in US dollars: `$0.0421`, `$12.34` (`$0` when nothing was spent)."""
    if value == 0:
        return "$0"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"
