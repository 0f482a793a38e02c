"""Evidence: what the sensors saw, in the formats real systems emit (see shared/SCENARIOS.md).

A live snapshot and a replayed scenario carry the same shapes: Prometheus range-query matrix
items, raw Kubernetes API objects (dicts, exactly as the API server returns them), log lines,
topology edges, a change feed, free-text documents, and similar past incidents.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SensorName = Literal[
    "kubernetes", "events", "metrics", "logs", "topology", "changes", "documents", "history"
]
SensorStatus = Literal["ok", "empty", "error", "timeout"]
# labels that carry a request's outcome, in any library's or mesh's spelling; of several on one
# series the first is read. Istio answers a failed gRPC call with HTTP 200 in `response_code`
# and its gRPC code in `grpc_response_status` (empty for plain HTTP), so that comes first;
# Linkerd's `classification` is `success` or `failure`
STATUS_LABELS = ("grpc_response_status", "code", "status", "status_code", "http_status_code",
                 "http_status", "http_response_status_code", "response_code", "grpc_code",
                 "grpc_status", "rpc_grpc_status_code", "envoy_response_code",
                 "envoy_response_code_class", "classification", "outcome", "result")


def status_label(labels: dict[str, str]) -> str:
    """Return the label that carries a request's outcome on a series, or ''."""
    return next((k for k in STATUS_LABELS if labels.get(k)), "")


class Series(BaseModel):
    """One Prometheus `query_range` matrix item: labels and [unix seconds, "value"] samples."""

    model_config = ConfigDict(extra="ignore")

    metric: dict[str, str]
    values: list[tuple[float, str]]

    @property
    def name(self) -> str:
        return self.metric.get("__name__", "")


class LogStream(BaseModel):
    model_config = ConfigDict(extra="ignore")

    namespace: str = ""
    pod: str = ""
    container: str = ""
    previous: bool = False  # the log of the previous (crashed) container
    lines: list[str] = []


class Change(BaseModel):
    model_config = ConfigDict(extra="ignore")

    time: datetime
    kind: Literal["deploy", "config", "scale", "infra", "feature_flag"]
    target: str  # namespace/kind/name
    description: str = ""


class Document(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source: str = ""
    title: str = ""
    text: str = ""


class SimilarIncident(BaseModel):
    """A past incident that looks like this one, with what was done and how it ended."""

    incident_id: str
    title: str = ""
    namespace: str = ""
    service: str = ""
    fault: str = ""
    action: str = ""
    outcome: str = ""  # success | degraded | failed | timeout | unknown
    similarity: float = 0.0


class AlertView(BaseModel):
    """One alert as the agents see it (flattened from a webhook or a stored signal)."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    starts_at: datetime
    ends_at: datetime | None = None
    fingerprint: str = ""


class EvidenceData(BaseModel):
    """The payload a sensor contributes; a snapshot is the merge of every sensor's part."""

    series: list[Series] = []
    objects: list[dict[str, Any]] = []
    logs: list[LogStream] = []
    topology: list[tuple[str, str]] = []  # caller -> callee
    changes: list[Change] = []
    documents: list[Document] = []
    similar: list[SimilarIncident] = []

    def merge(self, other: EvidenceData) -> None:
        """Append another sensor's part to this one."""
        self.series.extend(other.series)
        self.objects.extend(other.objects)
        self.logs.extend(other.logs)
        self.topology.extend(other.topology)
        self.changes.extend(other.changes)
        self.documents.extend(other.documents)
        self.similar.extend(other.similar)


class SensorRun(BaseModel):
    """How one sensor did: the exact queries, what it found, or why it failed."""

    sensor: str
    status: SensorStatus
    error: str | None = None
    queries: list[str] = []
    items: int = 0
    latency_ms: float = 0.0
    note: str = ""  # e.g. "searched pods in shop, found nothing"


class SensorRequest(BaseModel):
    """What to look at: the incident's scope and time window."""

    incident_id: str | None = None
    now: datetime
    lookback_seconds: int = 3600
    namespaces: list[str] = []
    services: list[str] = []
    alerts: list[AlertView] = []


class SensorResult(BaseModel):
    run: SensorRun
    data: EvidenceData = EvidenceData()


class EvidenceSnapshot(EvidenceData):
    """Everything the debate may look at for one incident, frozen at `now`."""

    incident_id: str | None = None
    now: datetime
    alerts: list[AlertView] = []
    sensors: list[SensorRun] = []

    @property
    def sensors_attempted(self) -> list[str]:
        return [s.sensor for s in self.sensors]

    @property
    def sensors_succeeded(self) -> list[str]:
        return [s.sensor for s in self.sensors if s.status in ("ok", "empty")]
