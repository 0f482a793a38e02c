"""Scope the sensors to an incident: one request, the same for analysis and verification.

The verifier reads the cluster again after an action with the very scope the analysis read it
with, so the two snapshots it compares cover the same namespaces and services.
"""

from __future__ import annotations

from datetime import datetime

from warroom.sensors.models import AlertView, SensorRequest
from warroom.store.tables import Incident, Signal

# alert labels that name the service an alert is about, most specific first
SERVICE_LABELS = ("service", "service_name", "deployment", "statefulset", "daemonset", "app",
                  "app_kubernetes_io_name", "job_name")


def build_request(incident: Incident, signals: list[Signal], *, now: datetime,
                  lookback_seconds: int) -> SensorRequest:
    """Scope the sensors to the incident: its alerts, namespaces and services."""
    alerts = [AlertView(status="firing" if s.status == "firing" else "resolved",
                        labels={str(k): str(v) for k, v in (s.labels or {}).items()},
                        annotations={str(k): str(v) for k, v in (s.annotations or {}).items()},
                        starts_at=s.starts_at,
                        ends_at=s.ends_at,
                        fingerprint=s.fingerprint) for s in signals]
    namespaces = [incident.namespace] if incident.namespace else []
    services = [incident.service] if incident.service else []
    for alert in alerts:
        ns = alert.labels.get("namespace")
        if ns and ns not in namespaces:
            namespaces.append(ns)
        for label in SERVICE_LABELS:
            value = alert.labels.get(label)
            if value and value not in services:
                services.append(value)
                break
    return SensorRequest(incident_id=incident.id, now=now, lookback_seconds=lookback_seconds,
                         namespaces=namespaces, services=services, alerts=alerts)
