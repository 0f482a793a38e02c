from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.ingest import repository
from warroom.ingest.models import AlertmanagerWebhook, GenericAlertBatch, IngestResult
from warroom.ingest.normalize import fingerprint
from warroom.ingest.service import ingest_alertmanager, ingest_generic
from warroom.store import audit
from warroom.store.db import transaction
from warroom.store.tables import AuditEvent, Incident, Signal

T0 = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


def alert(
    name: str = "HighErrorRatio",
    status: str = "firing",
    fp: str | None = None,
    **labels: str,
) -> dict[str, Any]:
    merged = {"alertname": name, "namespace": "shop", "service": "checkout", **labels}
    body: dict[str, Any] = {
        "status": status,
        "labels": {k: v for k, v in merged.items() if v},
        "annotations": {"summary": f"{name} fired"},
        "startsAt": "2026-11-22T04:48:31Z",
        "endsAt": "2026-11-22T05:02:11Z" if status == "resolved" else "0001-01-01T00:00:00Z",
    }
    if fp is not None:
        body["fingerprint"] = fp
    return body


def webhook(*alerts: dict[str, Any]) -> AlertmanagerWebhook:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return AlertmanagerWebhook.model_validate({"status": status, "alerts": list(alerts)})


async def post(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    body: AlertmanagerWebhook,
    at: datetime = T0,
) -> IngestResult:
    async with transaction(sessions) as session:
        return await ingest_alertmanager(session, body, settings=settings, now=at)


async def counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessions() as session:
        incidents = (await session.execute(select(func.count()).select_from(Incident))).scalar()
        signals = (await session.execute(select(func.count()).select_from(Signal))).scalar()
        events = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar()
    return int(incidents or 0), int(signals or 0), int(events or 0)


async def incident(sessions: async_sessionmaker[AsyncSession], incident_id: str) -> Incident:
    async with sessions() as session:
        found = await repository.get_incident(session, incident_id)
    assert found is not None
    return found


async def test_fixture_opens_dedups_and_resolves(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> None:
    firing = AlertmanagerWebhook.model_validate_json(
        (fixtures_dir / "alertmanager-webhook-firing.json").read_bytes()
    )
    resolved = AlertmanagerWebhook.model_validate_json(
        (fixtures_dir / "alertmanager-webhook-resolved.json").read_bytes()
    )
    first = await post(sessions, settings, firing)
    assert first.accepted == 1
    [ref] = first.incidents
    assert (ref.priority, ref.service, ref.namespace, ref.status, ref.created) == (
        "P1",
        "checkout",
        "shop",
        "open",
        True,
    )
    before = await counts(sessions)
    again = await post(sessions, settings, firing, T0 + timedelta(seconds=30))
    assert again.incidents[0].id == ref.id and not again.incidents[0].created
    after = await counts(sessions)
    assert after[:2] == before[:2] == (1, 1)
    async with sessions() as session:
        [signal] = await repository.list_signals(session, ref.id)
    assert signal.receive_count == 2 and signal.status == "firing"

    done = await post(sessions, settings, resolved, T0 + timedelta(seconds=60))
    assert done.incidents[0].status == "resolved"
    stored = await incident(sessions, ref.id)
    assert stored.status == "resolved" and stored.resolved_at is not None
    async with sessions() as session:
        [signal] = await repository.list_signals(session, ref.id)
        kinds = [e.kind for e in await audit.list_events(session, incident_id=ref.id)]
        assert (await audit.verify_chain(session)).ok
    assert signal.status == "resolved" and signal.ends_at is not None
    assert kinds == ["incident.opened"] + ["signal.received"] * 3 + ["incident.resolved"]


async def test_refire_within_window_reopens_and_after_window_opens_new(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    first = (await post(sessions, settings, webhook(alert()))).incidents[0]
    await post(sessions, settings, webhook(alert(status="resolved")), T0 + timedelta(minutes=1))
    within = T0 + timedelta(minutes=1, seconds=settings.group_window_seconds - 1)
    reopened = (await post(sessions, settings, webhook(alert()), within)).incidents[0]
    assert reopened.id == first.id and reopened.status == "open" and reopened.created
    resolve_at = within + timedelta(seconds=5)
    await post(sessions, settings, webhook(alert(status="resolved")), resolve_at)
    late = resolve_at + timedelta(seconds=settings.group_window_seconds + 1)
    fresh = (await post(sessions, settings, webhook(alert()), late)).incidents[0]
    assert fresh.id != first.id and fresh.created and fresh.status == "open"
    assert (await incident(sessions, first.id)).status == "resolved"
    async with sessions() as session:
        kinds = [e.kind for e in await audit.list_events(session, incident_id=first.id)]
    assert "incident.reopened" in kinds


async def test_grouping_by_service_then_alertname_then_job(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    result = await post(
        sessions,
        settings,
        webhook(
            alert("HighErrorRatio"),
            alert("HighLatency"),  # same namespace + service: same incident
            alert("HighErrorRatio", namespace="pay"),  # other namespace: its own
            alert("DiskFull", service="", job="node"),  # namespace + alertname
            alert("DiskFull", service="", job="node", instance="b"),
            alert("Up", namespace="", service="", job="node"),  # job only
        ),
    )
    assert result.accepted == 6
    assert len(result.incidents) == 4
    async with sessions() as session:
        keys = sorted((await session.execute(select(Incident.group_key))).scalars())
        grouped = [len(await repository.list_signals(session, ref.id)) for ref in result.incidents]
    assert keys == [
        "job=node",
        "namespace=pay,service=checkout",
        "namespace=shop,alertname=DiskFull",
        "namespace=shop,service=checkout",
    ]
    assert sorted(grouped) == [1, 1, 2, 2]


async def test_incident_resolves_only_when_all_signals_resolve(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await post(sessions, settings, webhook(alert("A"), alert("B")))
    partly = await post(sessions, settings, webhook(alert("A", status="resolved")))
    assert partly.incidents[0].status == "open"
    fully = await post(sessions, settings, webhook(alert("B", status="resolved")))
    assert fully.incidents[0].status == "resolved"


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "critical"}, "P1"),
        ({"severity": "Warning"}, "P2"),
        ({"severity": "info"}, "P3"),
        ({"severity": "unheard-of"}, "P3"),
        ({"severity": "info", "priority": "P0"}, "P0"),
        ({"severity": "critical", "priority": "urgent"}, "P1"),
    ],
)
async def test_priority_mapping(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    labels: dict[str, str],
    expected: str,
) -> None:
    result = await post(sessions, settings, webhook(alert(**labels)))
    assert result.incidents[0].priority == expected


async def test_priority_escalates_when_a_worse_signal_joins(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    await post(sessions, settings, webhook(alert("A", severity="warning")))
    result = await post(sessions, settings, webhook(alert("B", severity="critical")))
    assert result.incidents[0].priority == "P1"
    result = await post(sessions, settings, webhook(alert("C", severity="info")))
    assert result.incidents[0].priority == "P1"


async def test_missing_fingerprint_is_computed_from_labels(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    body = alert()
    result = await post(sessions, settings, webhook(body, body))
    async with sessions() as session:
        [signal] = await repository.list_signals(session, result.incidents[0].id)
    assert signal.fingerprint == fingerprint(body["labels"])
    assert signal.receive_count == 2


async def test_generic_alerts_are_grouped_like_alertmanager_ones(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    body = GenericAlertBatch.model_validate(
        {
            "source": "datadog",
            "alerts": [
                {
                    "name": "QueueBacklog",
                    "severity": "warning",
                    "namespace": "shop",
                    "service": "checkout",
                    "summary": "queue is backing up",
                },
            ],
        }
    )
    await post(sessions, settings, webhook(alert()))
    async with transaction(sessions) as session:
        result = await ingest_generic(session, body, settings=settings, now=T0)
    [ref] = result.incidents
    async with sessions() as session:
        signals = await repository.list_signals(session, ref.id)
    assert {s.source for s in signals} == {"alertmanager", "datadog"}
    generic = next(s for s in signals if s.source == "datadog")
    assert generic.labels["alertname"] == "QueueBacklog"
    assert generic.annotations["summary"] == "queue is backing up"
