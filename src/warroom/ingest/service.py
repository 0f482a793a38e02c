"""Alerts in, incidents out: deduplicate by fingerprint, group, prioritise, resolve, re-open.

A webhook batch is decided in memory against the stored state loaded in a handful of queries,
then written with one executemany per kind of change and one audit chain extension, so a batch
of 100 alerts costs the same few round trips as a batch of one. The caller commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.config import Settings
from warroom.ingest import repository
from warroom.ingest.models import (
    AlertmanagerWebhook,
    GenericAlertBatch,
    IncidentRef,
    IncidentStatus,
    IngestResult,
    Priority,
)
from warroom.ingest.normalize import (
    AlertRecord,
    from_alertmanager,
    from_generic,
    group_key,
    priority_of,
    service_of,
    title_of,
)
from warroom.store import audit
from warroom.store.audit import NewEvent, utc


@dataclass(slots=True)
class _Incident:
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
class _Signal:
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


class _Batch:
    """The in-memory state one batch is decided against."""

    def __init__(self, settings: Settings, now: datetime) -> None:
        self.settings = settings
        self.now = now
        self.window = timedelta(seconds=settings.group_window_seconds)
        self.signals: dict[str, _Signal] = {}
        self.incidents: dict[str, _Incident] = {}
        self.by_key: dict[str, _Incident] = {}  # the incident a new signal with this key joins
        self.touched: dict[str, _Incident] = {}
        # per webhook of a group commit: incident id -> opened or re-opened by that webhook
        self.groups: list[dict[str, bool]] = []
        self.maybe_resolved: set[str] = set()
        self.events: list[NewEvent] = []

    def load_incident(self, row: Any, prefix: str = "") -> _Incident:
        """Track the incident of a loaded row (its columns named `prefix` + column)."""
        values = row._mapping
        inc = self.incidents.get(values[f"{prefix}id"])
        if inc is None:
            inc = _Incident(
                id=values[f"{prefix}id"],
                group_key=values[f"{prefix}group_key"],
                status=values[f"{prefix}status"],
                priority=values[f"{prefix}priority"],
                namespace=values[f"{prefix}namespace"],
                service=values[f"{prefix}service"],
                last_signal_at=utc(values[f"{prefix}last_signal_at"]),
            )
            self.incidents[inc.id] = inc
        return inc

    def offer_candidate(self, inc: _Incident) -> None:
        """Make `inc` the incident its key groups into, if it beats the current one."""
        if inc.status != "open" and self.now - inc.last_signal_at > self.window:
            return
        best = self.by_key.get(inc.group_key)
        if best is None or (inc.status == "open", inc.last_signal_at) > (
            best.status == "open",
            best.last_signal_at,
        ):
            self.by_key[inc.group_key] = inc

    def event(self, kind: str, inc: _Incident, payload: dict[str, Any]) -> None:
        self.events.append(NewEvent(kind=kind, payload=payload, incident_id=inc.id, at=self.now))

    def reopen(self, inc: _Incident, record: AlertRecord) -> None:
        inc.status = "open"
        inc.resolved_at = None
        inc.changed = True
        self.groups[-1][inc.id] = True
        self.event("incident.reopened", inc, {"by_fingerprint": record.fingerprint})

    def place(self, record: AlertRecord) -> _Incident:
        """Return the incident a signal joins: the open or recent one of its key, else a new one."""
        key = group_key(record, self.settings)
        inc = self.by_key.get(key)
        if inc is not None:
            if inc.status == "resolved" and record.status == "firing":
                self.reopen(inc, record)
            return inc
        firing = record.status == "firing"
        priority = priority_of(record.labels, self.settings)
        inc = _Incident(
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

    def receive(self, record: AlertRecord) -> None:
        """Apply one alert to the batch state."""
        sig = self.signals.get(record.fingerprint)
        if sig is None:
            inc = self.place(record)
            sig = _Signal(
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


async def ingest_alertmanager(
    session: AsyncSession,
    payload: AlertmanagerWebhook,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> IngestResult:
    """Store an Alertmanager webhook's alerts and update their incidents; the caller commits."""
    return await ingest_records(session, from_alertmanager(payload), settings=settings, now=now)


async def ingest_generic(
    session: AsyncSession,
    payload: GenericAlertBatch,
    *,
    settings: Settings,
    now: datetime | None = None,
) -> IngestResult:
    """Store generic JSON alerts like Alertmanager ones; the caller commits."""
    now = utc(now or datetime.now(UTC))
    return await ingest_records(session, from_generic(payload, now), settings=settings, now=now)


async def ingest_records(
    session: AsyncSession,
    records: list[AlertRecord],
    *,
    settings: Settings,
    now: datetime | None = None,
) -> IngestResult:
    """Apply normalised alerts in order, write the changes in bulk and extend the audit chain."""
    [result] = await ingest_groups(session, [records], settings=settings, now=now)
    return result


async def ingest_groups(
    session: AsyncSession,
    groups: list[list[AlertRecord]],
    *,
    settings: Settings,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Apply several webhooks' alerts in one transaction (group commit), one result each."""
    batch = _Batch(settings, utc(now or datetime.now(UTC)))
    records = [record for group in groups for record in group]
    if not records:
        return [IngestResult(accepted=0, incidents=[]) for _ in groups]
    # serialise ingestion (and the audit chain) from the first statement on
    await audit.lock_chain(session, eager=True)

    for row in await repository.signals_by_fingerprint(session, {r.fingerprint for r in records}):
        batch.signals[row.fingerprint] = _Signal(
            id=row.id,
            incident_id=row.incident_id,
            status=row.status,
            receive_count=row.receive_count,
            stored_count=row.receive_count,
            starts_at=utc(row.starts_at),
            annotations=row.annotations,
        )
        if row.incident_id not in batch.incidents:
            batch.offer_candidate(batch.load_incident(row, prefix="inc_"))
    # only alerts that may need (re-)grouping cost the candidates query
    keys = {
        group_key(r, settings)
        for r in records
        if r.fingerprint not in batch.signals
        or batch.incidents[batch.signals[r.fingerprint].incident_id].status == "resolved"
    }
    if keys:
        since = batch.now - batch.window
        for row in await repository.grouping_candidates(session, keys, since=since):
            batch.offer_candidate(batch.load_incident(row))

    for group in groups:
        batch.groups.append({})
        for record in group:
            batch.receive(record)

    await _write(session, batch)
    await _resolve_finished(session, batch)
    await audit.append_many(session, batch.events)
    # one ref object per incident and flag pair, shared by the webhooks of a group commit
    refs: dict[tuple[str, bool], IncidentRef] = {}
    results = []
    for group, touched in zip(groups, batch.groups, strict=True):
        group_refs = []
        for incident_id, created in touched.items():
            ref = refs.get((incident_id, created))
            if ref is None:
                inc = batch.incidents[incident_id]
                ref = refs[incident_id, created] = IncidentRef.model_construct(
                    id=inc.id,
                    status=inc.status,
                    priority=inc.priority,
                    namespace=inc.namespace,
                    service=inc.service,
                    created=created,
                    changed=inc.new or inc.changed,
                )
            group_refs.append(ref)
        results.append(IngestResult.model_construct(accepted=len(group), incidents=group_refs))
    return results


async def _write(session: AsyncSession, batch: _Batch) -> None:
    now = batch.now
    new_signals: list[dict[str, Any]] = []
    signal_updates: list[dict[str, Any]] = []
    # re-sent alerts that changed nothing but their count: one statement per increment
    recounted: dict[int, list[str]] = {}
    for fp, sig in batch.signals.items():
        record = sig.record
        if record is None:
            continue
        ends_at = (record.ends_at or now) if sig.status == "resolved" else None
        if sig.new:
            labels = record.labels
            new_signals.append(
                {
                    "id": sig.id,
                    "fingerprint": fp,
                    "incident_id": sig.incident_id,
                    "source": record.source[:32],
                    "status": sig.status,
                    "alertname": labels.get("alertname", "")[:253],
                    "severity": labels.get("severity", "")[:32],
                    "labels": labels,
                    "annotations": record.annotations,
                    "starts_at": sig.starts_at,
                    "ends_at": ends_at,
                    "generator_url": record.generator_url,
                    "received_at": now,
                    "updated_at": now,
                    "receive_count": sig.receive_count,
                }
            )
        elif sig.changed:
            signal_updates.append(
                {
                    "b_id": sig.id,
                    "incident_id": sig.incident_id,
                    "status": sig.status,
                    "receive_count": sig.receive_count,
                    "annotations": record.annotations,
                    "starts_at": sig.starts_at,
                    "ends_at": ends_at,
                    "updated_at": now,
                }
            )
        else:
            recounted.setdefault(sig.receive_count - sig.stored_count, []).append(sig.id)
    new_incidents: list[dict[str, Any]] = []
    incident_updates: list[dict[str, Any]] = []
    seen_again: list[str] = []  # incidents whose only change is the newest signal time
    for inc in batch.touched.values():
        if inc.new:
            new_incidents.append(
                {
                    **inc.row,
                    "status": inc.status,
                    "priority": inc.priority,
                    "namespace": inc.namespace,
                    "service": inc.service,
                    "updated_at": now,
                    "resolved_at": inc.resolved_at,
                    "last_signal_at": inc.last_signal_at,
                }
            )
        elif inc.changed:
            incident_updates.append(_incident_update(inc, now))
        else:
            seen_again.append(inc.id)
    await repository.write_batch(
        session,
        new_incidents=new_incidents,
        incident_updates=incident_updates,
        new_signals=new_signals,
        signal_updates=signal_updates,
    )
    await repository.touch(session, seen_again=seen_again, recounted=recounted, now=now)


def _incident_update(inc: _Incident, now: datetime) -> dict[str, Any]:
    return {
        "b_id": inc.id,
        "status": inc.status,
        "priority": inc.priority,
        "updated_at": now,
        "last_signal_at": inc.last_signal_at,
        "resolved_at": inc.resolved_at,
    }


async def _resolve_finished(session: AsyncSession, batch: _Batch) -> None:
    """Resolve the open incidents whose last firing signal this batch resolved."""
    candidates = [i for i in batch.maybe_resolved if batch.incidents[i].status == "open"]
    if not candidates:
        return
    still_firing = await repository.incidents_with_firing_signals(session, candidates)
    updates = []
    for incident_id in sorted(set(candidates) - still_firing):
        inc = batch.incidents[incident_id]
        inc.status = "resolved"
        inc.resolved_at = batch.now
        inc.changed = True
        batch.event("incident.resolved", inc, {"priority": inc.priority})
        updates.append(_incident_update(inc, batch.now))
    if updates:
        await repository.write_batch(
            session, new_incidents=[], incident_updates=updates, new_signals=[], signal_updates=[]
        )
