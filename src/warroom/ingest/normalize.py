"""Turn webhook alerts into one internal shape: fingerprint, group key, priority, clean text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from warroom.config import Settings
from warroom.domain.subjects import subject_labels
from warroom.ingest.models import AlertmanagerWebhook, GenericAlertBatch, Priority
from warroom.store.audit import utc

PRIORITIES = ("P0", "P1", "P2", "P3")
# labels that name the workload an alert is about, most specific first
SERVICE_LABELS = (
    "service",
    "service_name",  # OpenTelemetry's service.name
    "app",
    "app_kubernetes_io_name",
    "deployment",
    "statefulset",
    "daemonset",
    "job",
)

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1


@dataclass(slots=True)
class AlertRecord:
    """One received alert, validated and normalised, ready to store."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    source: str


def fingerprint(labels: dict[str, str]) -> str:
    """Compute Alertmanager's fingerprint (FNV-1a 64 over the sorted label pairs)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


def instant(value: datetime) -> datetime:
    """Return `value` in UTC, clamped to the representable range (year 1 +01:00 overflows)."""
    try:
        return utc(value)
    except OverflowError:
        return (
            datetime.min.replace(tzinfo=UTC) if value.year < 2 else datetime.max.replace(tzinfo=UTC)
        )


def _ends_at(value: datetime | None) -> datetime | None:
    # Alertmanager writes 0001-01-01T00:00:00Z for "has not ended"
    if value is None or value.year <= 1:
        return None
    return instant(value)


def from_alertmanager(payload: AlertmanagerWebhook) -> list[AlertRecord]:
    """Normalise the alerts of an Alertmanager webhook."""
    return [
        AlertRecord(
            fingerprint=alert.fingerprint or fingerprint(alert.labels),
            status=alert.status,
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=instant(alert.starts_at),
            ends_at=_ends_at(alert.ends_at) if alert.status == "resolved" else None,
            generator_url=alert.generator_url,
            source="alertmanager",
        )
        for alert in payload.alerts
    ]


def from_generic(payload: GenericAlertBatch, now: datetime) -> list[AlertRecord]:
    """Normalise generic alerts: the named fields become the usual Prometheus labels."""
    records = []
    for alert in payload.alerts:
        labels = dict(alert.labels)
        labels["alertname"] = alert.name
        for key in ("severity", "namespace", "service", "priority"):
            value = getattr(alert, key)
            if value:
                labels[key] = value
        annotations = dict(alert.annotations)
        if alert.summary:
            annotations["summary"] = alert.summary
        if alert.description:
            annotations["description"] = alert.description
        ends_at = _ends_at(alert.ends_at) if alert.status == "resolved" else None
        records.append(
            AlertRecord(
                fingerprint=alert.fingerprint or fingerprint(labels),
                status=alert.status,
                labels=labels,
                annotations=annotations,
                starts_at=instant(alert.starts_at) if alert.starts_at else now,
                ends_at=(ends_at or now) if alert.status == "resolved" else None,
                generator_url=alert.url,
                source=payload.source,
            )
        )
    return records


def priority_of(labels: dict[str, str], settings: Settings) -> Priority:
    """Map an alert to P0..P3: an explicit `priority` label wins, then the severity mapping."""
    explicit = labels.get("priority", "").upper()
    if explicit in PRIORITIES:
        return cast(Priority, explicit)
    mapped = settings.severity_map.get(labels.get("severity", "").lower())
    return cast(Priority, mapped or settings.default_priority)


def group_key(record: AlertRecord, settings: Settings) -> str:
    """Return the grouping key: the first label set of `settings.group_by` the alert carries
    (of its subject's labels: kube-state-metrics' Service is not what a pod alert is about)."""
    labels = subject_labels(record.labels)
    for names in settings.group_by:
        if names and all(labels.get(name) for name in names):
            return ",".join(f"{name}={labels[name]}" for name in names)[:512]
    # nothing to group on: the alert stands alone
    return f"fingerprint={record.fingerprint}"


def service_of(labels: dict[str, str]) -> str:
    """Name the workload an alert is about, from the most specific label present (its
    subject's when an exporter reports on other objects: never the exporter's Service)."""
    labels = subject_labels(labels)
    for name in SERVICE_LABELS:
        if labels.get(name):
            return labels[name][:253]
    return ""


def affected_services(root: str, labels: list[dict[str, str]]) -> list[str]:
    """List the services the signals are about, the root candidate first, each once."""
    found = [root] if root else []
    for item in labels:
        name = service_of(item)
        if name and name not in found:
            found.append(name)
    return found


def title_of(record: AlertRecord) -> str:
    """Return a one-line title: the summary annotation, else the alert name."""
    return (record.annotations.get("summary") or record.labels.get("alertname", ""))[:1024]
