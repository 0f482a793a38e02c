from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.decisions import repository as decisions
from warroom.store.tables import Decision, Incident
from warroom.workflow import repository

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _incident(iid: str, status: str, minutes: int) -> Incident:
    at = AT + timedelta(minutes=minutes)
    return Incident(id=iid, group_key=iid, status=status, priority="P2", opened_at=at,
                    updated_at=at, last_signal_at=at)


def _decision(token: str, iid: str, status: str, minutes: int,
              parent: str | None = None) -> Decision:
    at = AT + timedelta(minutes=minutes)
    return Decision(token=token, incident_id=iid, status=status, parent_token=parent,
                    workflow_id=f"wf-{token}", created_at=at, updated_at=at)


async def test_rounds_newest_decisions_and_the_incidents_nobody_took_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add_all([_incident("a", "open", 0), _incident("b", "open", 1),
                         _incident("c", "open", 2), _incident("d", "resolved", 3)])
        await session.flush()
        session.add_all([_decision("a1", "a", "completed", 5), _decision("a2", "a", "ready", 6),
                         _decision("a3", "a", "ready", 7, parent="a2"),
                         _decision("b1", "b", "analyzing", 5)])
    async with sessions() as session:
        rounds = await repository.rounds(session, ["a", "c"])
        orphans = await repository.undecided_open_incidents(session)
        latest = await decisions.latest_for_incidents(session, ["a", "b", "c"])
    # a rollback proposal is no round of its own
    assert [(r.incident_id, r.status) for r in rounds] == [("a", "completed"), ("a", "ready")]
    assert [i.id for i in orphans] == ["c"]
    assert {k: d.token for k, d in latest.items()} == {"a": "a3", "b": "b1"}
