"""The scenario replay format (`warroom-scenario/v1`, see shared/SCENARIOS.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from warroom.agents.models import ActionType, Fault
from warroom.ingest.models import AlertmanagerWebhook
from warroom.sensors.models import Change, Document, LogStream, Series


class PrometheusData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    step_seconds: int | None = None
    series: list[Series] = []


class KubernetesData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    objects: list[dict[str, Any]] = []


class Topology(BaseModel):
    model_config = ConfigDict(extra="ignore")

    edges: list[tuple[str, str]] = []


class RootCause(BaseModel):
    namespace: str
    service: str
    fault: Fault


class ExpectedAction(BaseModel):
    type: ActionType
    target: str | None = None  # namespace/kind/name; `*` matches any name


class Expected(BaseModel):
    model_config = ConfigDict(extra="ignore")

    root_cause: RootCause
    also_root_cause: list[RootCause] = []
    acceptable_actions: list[ExpectedAction] = []
    forbidden_actions: list[ExpectedAction] = []
    human_required: bool = False


class Scenario(BaseModel):
    """One recorded situation: the alerts that arrived and the telemetry, frozen at `now`."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["warroom-scenario/v1"]
    id: str = Field(pattern=r"^[a-z0-9._-]+$")
    title: str = ""
    now: datetime
    cluster: str | None = None
    alerts: list[AlertmanagerWebhook] = []
    prometheus: PrometheusData = PrometheusData()
    kubernetes: KubernetesData = KubernetesData()
    logs: list[LogStream] = []
    topology: Topology = Topology()
    changes: list[Change] = []
    documents: list[Document] = []
    expected: Expected | None = None
