"""Wire and domain types of ingestion: Alertmanager webhook v4, the generic alert, signals."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr

from warroom.store.times import utc

AlertStatus = Literal["firing", "resolved"]
Priority = Literal["P0", "P1", "P2", "P3"]
IncidentStatus = Literal["open", "resolved"]


# SQLite hands stored (UTC) timestamps back without a zone
UtcDatetime = Annotated[datetime, AfterValidator(utc)]


class AlertmanagerAlert(BaseModel):
    """One alert of an Alertmanager webhook, as Alertmanager 0.2x sends it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    starts_at: datetime = Field(alias="startsAt")
    # Alertmanager sends 0001-01-01T00:00:00Z for "not ended"
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = Field(default="", max_length=128)


class AlertmanagerWebhook(BaseModel):
    """The Alertmanager webhook body, version 4."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    version: Literal["4"] = "4"
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    status: AlertStatus
    receiver: str = ""
    group_labels: dict[str, str] = Field(default={}, alias="groupLabels")
    common_labels: dict[str, str] = Field(default={}, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default={}, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[AlertmanagerAlert] = Field(min_length=1)


class GenericAlert(BaseModel):
    """One alert from a non-Prometheus source (`POST /api/v1/alerts`, documented in docs/api.md)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=253, description="becomes the alertname label")
    status: AlertStatus = "firing"
    severity: str = Field(default="", max_length=32, description="mapped to P0..P3")
    priority: Priority | None = Field(default=None, description="overrides the severity mapping")
    namespace: str = ""
    service: str = ""
    summary: str = ""
    description: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    starts_at: datetime | None = Field(default=None, description="default: when received")
    ends_at: datetime | None = None
    url: str = Field(default="", description="a link back to the source")
    fingerprint: str = Field(
        default="", max_length=128, description="default: computed from the labels"
    )


class GenericAlertBatch(BaseModel):
    """The body of `POST /api/v1/alerts`."""

    model_config = ConfigDict(extra="ignore")

    source: str = Field(default="generic", min_length=1, max_length=32)
    alerts: list[GenericAlert] = Field(min_length=1)


class IncidentRef(BaseModel):
    """What an ingest call tells its caller about each incident it touched."""

    id: str
    status: IncidentStatus
    priority: Priority
    namespace: str
    service: str
    created: bool = False  # the signal opened this incident (or re-opened it)
    # its status or priority changed, or it was opened; false for a plain re-sent alert
    changed: bool = False
    # the OpenTelemetry span context of the webhook that brought the change (never serialised)
    _trace_parent: Any = PrivateAttr(default=None)

    def traced_by(self, span_context: Any) -> IncidentRef:
        """Remember the webhook span that changed the incident, for the workflow's trace."""
        self._trace_parent = span_context
        return self

    @property
    def trace_parent(self) -> Any:
        """Return the span context of the webhook that changed the incident, if traced."""
        return self._trace_parent


class IngestResult(BaseModel):
    accepted: int
    incidents: list[IncidentRef]


class SignalView(BaseModel):
    """One stored signal as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    fingerprint: str
    source: str
    status: AlertStatus
    alertname: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: UtcDatetime
    ends_at: UtcDatetime | None
    generator_url: str
    received_at: UtcDatetime
    updated_at: UtcDatetime
    receive_count: int


class IncidentView(BaseModel):
    """One incident as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    group_key: str
    status: IncidentStatus
    priority: Priority
    namespace: str
    service: str
    title: str
    opened_at: UtcDatetime
    updated_at: UtcDatetime
    resolved_at: UtcDatetime | None
    last_signal_at: UtcDatetime


class IncidentPage(BaseModel):
    """One page of incidents and how many match in all."""

    total: int
    limit: int
    offset: int
    items: list[IncidentView]


class IncidentDetail(IncidentView):
    """An incident with its signals; detail providers (evidence, decision...) add more keys."""

    model_config = ConfigDict(from_attributes=True, extra="allow")

    signals: list[SignalView]
    # every service with a signal in the incident, the root candidate (`service`) first
    services: list[str] = []
