from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import JSON, bindparam, func, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.domain.models import (
    Action,
    Challenge,
    DebateExtras,
    DecisionPackage,
    FollowUp,
    Hypothesis,
    PolicyVerdict,
    ReadyPackage,
)
from warroom.store.tables import Decision, Incident

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

PACKAGE = DecisionPackage(
    status="ready", action=Action(type="scale", target="shop/deployment/checkout",
                                  params={"replicas": 4}),
    requires_human_approval=False, risk="low", blast_radius=12, confidence=0.83,
    summary="scale checkout", outcome="approve_auto_eligible", team="BE",
    followups=[FollowUp(title="add an HPA", kind="hpa", change="kubectl autoscale ...")],
    hypotheses=[Hypothesis(namespace="shop", service="checkout", fault="traffic_surge",
                           confidence=0.83, evidence=["rps x3"])],
    fault="traffic_surge",
)
POLICY = PolicyVerdict(auto_execute=True, requires_approvals=1, executable=True, trust=0.9)
EXTRAS = DebateExtras(session_id="s-1", latency_ms=41.5, challenges=[
    Challenge(question="breakage", text="more pods, more connections", severity="warning")])


async def _incident(session: AsyncSession) -> None:
    session.add(Incident(id="i-1", group_key="shop/checkout", status="open", priority="P1",
                         opened_at=AT, updated_at=AT, last_signal_at=AT))
    await session.flush()


def _decision(token: str, package: Any) -> Decision:
    return Decision(token=token, incident_id="i-1", status="ready", package=package,
                    created_at=AT, updated_at=AT)


async def test_the_package_round_trips_the_database_as_a_model(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stored = ReadyPackage.of(PACKAGE, policy=POLICY, extras=EXTRAS)
    async with sessions() as session, session.begin():
        await _incident(session)
        session.add_all([_decision("d-1", stored), _decision("d-2", None)])
    async with sessions() as session:
        back = await session.get(Decision, "d-1")
        empty = await session.get(Decision, "d-2")
    assert back is not None and empty is not None
    assert isinstance(back.package, ReadyPackage)
    assert back.package == stored
    assert back.package.policy.trust == 0.9 and back.package.challenges[0].severity == "warning"
    assert DecisionPackage.model_validate(back.package.model_dump()) == PACKAGE
    assert empty.package is None


async def test_a_row_written_before_the_typed_column_still_loads(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # the flat shape the column has always held: the package, "policy" and the extras
    old = {**PACKAGE.model_dump(mode="json"), "policy": POLICY.model_dump(mode="json"),
           **EXTRAS.model_dump(mode="json")}
    async with sessions() as session, session.begin():
        await _incident(session)
        await session.execute(text(
            "INSERT INTO decisions (token, incident_id, status, package, requires_approvals, "
            "created_at, updated_at) VALUES ('old', 'i-1', 'ready', :package, 1, :at, :at)"
        ).bindparams(bindparam("package", type_=JSON)), {"package": old, "at": AT})
    async with sessions() as session:
        back = await session.get(Decision, "old")
    assert back is not None and isinstance(back.package, ReadyPackage)
    assert back.package == ReadyPackage.of(PACKAGE, policy=POLICY, extras=EXTRAS)


async def test_json_paths_still_reach_inside_the_stored_package(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        await _incident(session)
        session.add(_decision("d-1", ReadyPackage.of(PACKAGE, policy=POLICY)))
    async with sessions() as session:
        team = (await session.execute(select(Decision.package["team"].as_string()))).scalar()
    assert team == "BE"


async def test_a_package_that_does_not_fit_the_model_is_refused_at_the_write(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        await _incident(session)
        session.add(_decision("bad", {"action": {"type": "rm -rf"}}))
        with pytest.raises(StatementError, match="validation error"):
            await session.flush()


TAIPEI = timezone(timedelta(hours=8))


async def test_timestamps_come_back_aware_utc_whatever_zone_went_in(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    local = datetime(2026, 12, 4, 20, 0, tzinfo=TAIPEI)  # 12:00 UTC
    async with sessions() as session, session.begin():
        session.add(Incident(id="i-1", group_key="shop/checkout", status="open", priority="P1",
                             opened_at=local, updated_at=AT.replace(tzinfo=None),
                             last_signal_at=AT, resolved_at=None))
    async with sessions() as session:
        back = await session.get(Incident, "i-1")
        latest = (await session.execute(select(func.max(Incident.opened_at)))).scalar_one()
        # a comparison converts its operand too: the same instant in another zone matches
        same = (await session.execute(
            select(Incident.id).where(Incident.opened_at == local)
        )).scalar_one_or_none()
        raw = (await session.execute(text("SELECT opened_at FROM incidents"))).scalar_one()
    assert back is not None
    for value in (back.opened_at, back.updated_at, back.last_signal_at, latest):
        assert value == AT and value.tzinfo is UTC, value
    assert back.resolved_at is None
    assert same == "i-1"
    # stored as before (no migration): the UTC wall time on SQLite, timestamptz on PostgreSQL
    if isinstance(raw, str):
        assert raw.startswith("2026-12-04 12:00:00")
    else:
        assert raw == AT
