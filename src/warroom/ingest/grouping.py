"""How one batch of alerts lands in incidents: deduplicate, group, cascade, escalate, reopen.

`Batch` is the in-memory state a batch is decided against (stored state loaded by the service
in a handful of queries); nothing here touches the database. When a service map is known and
cascade grouping is on, a new alert from a service connected in the dependency graph to the
root candidate of an open incident joins it, and the deepest service both depend on becomes
its root candidate (`cascade.py`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.config import Settings
from warroom.ingest.cascade import service_graph
from warroom.ingest.models import IncidentStatus, Priority
from warroom.ingest.normalize import AlertRecord, group_key, priority_of, service_of, title_of
from warroom.store.audit import NewEvent


@dataclass(slots=True)
class GroupedIncident:
    id: str
    group_key: str
    status: IncidentStatus
    priority: Priority
    namespace: str
    service: str
    last_signal_at: datetime
    new: bool = False
    changed: bool = False  # more than last_signal_at changed (status, priority)
    resolved_at: datetime | None = None
    row: dict[str, Any] = field(default_factory=dict)  # the full row, for new incidents


@dataclass(slots=True)
class GroupedSignal:
    id: str
    incident_id: str
    status: str
    receive_count: int
    starts_at: datetime
    annotations: dict[str, str] = field(default_factory=dict)
    stored_count: int = 0
    new: bool = False
    changed: bool = False  # more than the receive count changed
    record: AlertRecord | None = None  # the newest alert received for it in this batch


class Batch:
    """The in-memory state one batch is decided against."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.window = timedelta(seconds=settings.group_window_seconds)
        self.signals: dict[str, GroupedSignal] = {}
        self.incidents: dict[str, GroupedIncident] = {}
        # the incident a new signal with this key joins
        self.by_key: dict[str, GroupedIncident] = {}
        self.graph = service_graph(settings)
        self.touched: dict[str, GroupedIncident] = {}
        # per webhook of a group commit: incident id -> opened or re-opened by that webhook
        self.groups: list[dict[str, bool]] = []
        self.maybe_resolved: set[str] = set()
        self.events: list[NewEvent] = []

    def load_incident(self, row: Any, prefix: str = "") -> GroupedIncident:
        """Track the incident of a loaded row (its columns named `prefix` + column)."""
        values = row._mapping
        inc = self.incidents.get(values[f"{prefix}id"])
        if inc is None:
            inc = GroupedIncident(
                id=values[f"{prefix}id"],
                group_key=values[f"{prefix}group_key"],
                status=values[f"{prefix}status"],
                priority=values[f"{prefix}priority"],
                namespace=values[f"{prefix}namespace"],
                service=values[f"{prefix}service"],
                last_signal_at=values[f"{prefix}last_signal_at"],
            )
            self.incidents[inc.id] = inc
        return inc

    def offer_candidate(self, inc: GroupedIncident) -> None:
        """Make `inc` the incident its key groups into, if it beats the current one."""
        if inc.status != "open" and self.now - inc.last_signal_at > self.window:
            return
        best = self.by_key.get(inc.group_key)
        if best is None or (inc.status == "open", inc.last_signal_at) > (
            best.status == "open",
            best.last_signal_at,
        ):
            self.by_key[inc.group_key] = inc

    def event(self, kind: str, inc: GroupedIncident, payload: dict[str, Any]) -> None:
        self.events.append(NewEvent(kind=kind, payload=payload, incident_id=inc.id, at=self.now))

    def reopen(self, inc: GroupedIncident, record: AlertRecord) -> None:
        inc.status = "open"
        inc.resolved_at = None
        inc.changed = True
        self.groups[-1][inc.id] = True
        self.event("incident.reopened", inc, {"by_fingerprint": record.fingerprint})

    def place(self, record: AlertRecord) -> GroupedIncident:
        """Return the incident a signal joins: the open or recent one of its key, else a new one."""
        key = group_key(record, self.settings)
        inc = self.by_key.get(key)
        if inc is not None:
            if inc.status == "resolved" and record.status == "firing":
                self.reopen(inc, record)
            return inc
        firing = record.status == "firing"
        if firing and self.graph:
            inc = self.cascade(record)
            if inc is not None:
                self.by_key[key] = inc  # the key's later alerts in this batch join it directly
                return inc
        priority = priority_of(record.labels, self.settings)
        inc = GroupedIncident(
            id=str(uuid.uuid4()),
            group_key=key,
            status="open" if firing else "resolved",
            priority=priority,
            namespace=record.labels.get("namespace", "")[:253],
            service=service_of(record.labels),
            last_signal_at=self.now,
            new=True,
            resolved_at=None if firing else self.now,
        )
        self.groups[-1][inc.id] = firing
        inc.row = {
            "id": inc.id,
            "group_key": key,
            "title": title_of(record),
            "opened_at": record.starts_at if firing else self.now,
        }
        self.incidents[inc.id] = inc
        self.by_key[key] = inc
        self.event(
            "incident.opened" if firing else "incident.recorded_resolved",
            inc,
            {"group_key": key, "priority": priority, "by_fingerprint": record.fingerprint},
        )
        return inc

    def cascade(self, record: AlertRecord) -> GroupedIncident | None:
        """Join the open incident whose root candidate this alert's service is connected to."""
        service = service_of(record.labels)
        connected = self.graph.connected(service)
        if not connected:
            return None
        joined = [
            inc for inc in self.incidents.values()
            if inc.status == "open" and inc.service in connected
            and self.now - inc.last_signal_at <= self.window
        ]
        if not joined:
            return None
        inc = max(joined, key=lambda i: i.last_signal_at)
        root = self.graph.root(service, inc.service) or inc.service
        self.event("incident.cascade_joined", inc,
                   {"service": service, "root_candidate": root,
                    "by_fingerprint": record.fingerprint})
        if root != inc.service:
            self.event("incident.root_candidate", inc, {"from": inc.service, "to": root})
            inc.service = root
            inc.changed = True
        if root == service:  # the root candidate alerts itself: its namespace is known
            inc.namespace = record.labels.get("namespace", "")[:253]
            inc.changed = True
        return inc

    def receive(self, record: AlertRecord) -> None:
        """Apply one alert to the batch state."""
        sig = self.signals.get(record.fingerprint)
        if sig is None:
            inc = self.place(record)
            sig = GroupedSignal(
                id=str(uuid.uuid4()),
                incident_id=inc.id,
                status=record.status,
                receive_count=1,
                starts_at=record.starts_at,
                new=True,
            )
            self.signals[record.fingerprint] = sig
        else:
            sig.receive_count += 1
            inc = self.incidents[sig.incident_id]
            if record.status == "firing":
                if inc.status == "resolved":
                    if self.now - inc.last_signal_at <= self.window:
                        self.reopen(inc, record)
                    else:  # too late to be the same incident: group it afresh
                        inc = self.place(record)
                        sig.incident_id = inc.id
                if sig.status != "firing" or sig.starts_at != record.starts_at:
                    sig.status = "firing"
                    sig.starts_at = record.starts_at
                    sig.changed = True
            elif sig.status == "firing" and record.starts_at >= sig.starts_at:
                # (a resolution of an older occurrence than the one stored changes nothing)
                sig.status = "resolved"
                sig.changed = True
                self.maybe_resolved.add(inc.id)
            if record.annotations != sig.annotations:
                sig.changed = True
        sig.record = record
        if record.status == "firing":
            priority = priority_of(record.labels, self.settings)
            if priority < inc.priority:  # "P0" < "P1": escalate, never de-escalate
                self.event("incident.escalated", inc, {"from": inc.priority, "to": priority})
                inc.priority = priority
                inc.changed = True
        inc.last_signal_at = self.now
        self.touched[inc.id] = inc
        self.groups[-1].setdefault(inc.id, False)
        self.events.append(
            NewEvent(
                kind="signal.received",
                payload={
                    "fingerprint": record.fingerprint,
                    "status": record.status,
                    "alertname": record.labels.get("alertname", ""),
                    "source": record.source,
                    "receive_count": sig.receive_count,
                },
                incident_id=inc.id,
                at=self.now,
            )
        )


