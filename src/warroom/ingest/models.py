"""Wire and domain types of ingestion: Alertmanager webhook v4, the generic alert, signals."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AlertStatus = Literal["firing", "resolved"]
Priority = Literal["P0", "P1", "P2", "P3"]
IncidentStatus = Literal["open", "resolved"]


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


class IngestResult(BaseModel):
    accepted: int
    incidents: list[IncidentRef]
