from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.sensors.history import HistorySensor
from warroom.sensors.models import AlertView, SensorRequest
from warroom.store.tables import Decision, Incident, Verification

NOW = datetime(2026, 4, 18, 10, 46, tzinfo=UTC)


def incident(id_: str, ns: str, svc: str, title: str, age_h: int) -> Incident:
    t = NOW - timedelta(hours=age_h)
    return Incident(id=id_, group_key=f"{ns}/{svc}", status="resolved", priority="P2",
                    namespace=ns, service=svc, title=title, opened_at=t, updated_at=t,
                    last_signal_at=t)


async def test_similar_incidents_with_what_was_done(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        s.add_all([incident("a", "shop", "checkout", "KubePodCrashLooping checkout", 48),
                   incident("b", "web", "frontend", "HighLatency frontend", 24),
                   incident("now", "shop", "checkout", "KubePodCrashLooping checkout", 0)])
        await s.flush()
        s.add(Decision(token="t1", incident_id="a", status="completed",
                       fault="memory_limit_too_low", action_type="set_resources",
                       created_at=NOW - timedelta(hours=47),
                       updated_at=NOW))
        await s.flush()
        s.add(Verification(decision_token="t1", verdict="success", score=0.9, details={},
                           at=NOW - timedelta(hours=46)))
    alert = AlertView(status="firing", labels={"alertname": "KubePodCrashLooping"},
                      starts_at=NOW)
    request = SensorRequest(now=NOW + timedelta(minutes=1), incident_id="now",
                            namespaces=["shop"], services=["checkout"], alerts=[alert])
    result = await HistorySensor(sessions).collect(request)
    assert result.run.status == "ok"
    assert [s.incident_id for s in result.data.similar] == ["a"]
    past = result.data.similar[0]
    assert (past.fault, past.action, past.outcome) == (
        "memory_limit_too_low", "set_resources", "success")
    assert past.similarity > 0.7


async def test_no_history_is_empty_with_a_note(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    result = await HistorySensor(sessions).collect(
        SensorRequest(now=NOW, namespaces=["x"], services=["y"]))
    assert result.run.status == "empty"
    assert "found none" in result.run.note
