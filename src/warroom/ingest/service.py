"""Alerts in, incidents out: deduplicate by fingerprint, group, prioritise, resolve, re-open.

A webhook batch is decided in memory against the stored state loaded in a handful of queries,
then written with one executemany per kind of change and one audit chain extension, so a batch
of 100 alerts costs the same few round trips as a batch of one. The caller commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.config import Settings
from warroom.ingest import repository
from warroom.ingest.grouping import Batch, GroupedIncident, GroupedSignal
from warroom.ingest.models import (
    AlertmanagerWebhook,
    GenericAlertBatch,
    IncidentRef,
    IngestResult,
)
from warroom.ingest.normalize import (
    AlertRecord,
    from_alertmanager,
    from_generic,
    group_key,
    service_of,
)
from warroom.store import audit
from warroom.store.audit import utc


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
    batch = Batch(settings, utc(now or datetime.now(UTC)))
    records = [record for group in groups for record in group]
    if not records:
        return [IngestResult(accepted=0, incidents=[]) for _ in groups]
    # serialise ingestion (and the audit chain) from the first statement on
    await audit.lock_chain(session, eager=True)

    for row in await repository.signals_by_fingerprint(session, {r.fingerprint for r in records}):
        batch.signals[row.fingerprint] = GroupedSignal(
            id=row.id,
            incident_id=row.incident_id,
            status=row.status,
            receive_count=row.receive_count,
            stored_count=row.receive_count,
            starts_at=row.starts_at,
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
    since = batch.now - batch.window
    if keys:
        for row in await repository.grouping_candidates(session, keys, since=since):
            batch.offer_candidate(batch.load_incident(row))
    if batch.graph:
        # the open incidents a new alert may join as part of a cascade
        services = {
            name for r in records
            if r.status == "firing" and group_key(r, settings) not in batch.by_key
            for name in batch.graph.connected(service_of(r.labels))
        }
        if services:
            for row in await repository.cascade_candidates(session, services, since=since):
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


async def _write(session: AsyncSession, batch: Batch) -> None:
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


def _incident_update(inc: GroupedIncident, now: datetime) -> dict[str, Any]:
    return {
        "b_id": inc.id,
        "status": inc.status,
        "priority": inc.priority,
        "namespace": inc.namespace,
        "service": inc.service,
        "updated_at": now,
        "last_signal_at": inc.last_signal_at,
        "resolved_at": inc.resolved_at,
    }


async def _resolve_finished(session: AsyncSession, batch: Batch) -> None:
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
