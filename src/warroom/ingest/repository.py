"""SQL of ingestion: bulk loads and writes for the hot path, and the incident queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    Executable,
    Result,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.store.sql import dialect_of, in_list, list_value
from warroom.store.tables import Incident, Signal

SIGNALS = cast(Table, Signal.__table__)
INCIDENTS = cast(Table, Incident.__table__)

# the columns ingestion needs to decide what a received alert changes
_SIGNAL_STATE = (
    SIGNALS.c.id,
    SIGNALS.c.fingerprint,
    SIGNALS.c.incident_id,
    SIGNALS.c.status,
    SIGNALS.c.receive_count,
    SIGNALS.c.starts_at,
    SIGNALS.c.annotations,
)
_INCIDENT_STATE = (
    INCIDENTS.c.id,
    INCIDENTS.c.group_key,
    INCIDENTS.c.status,
    INCIDENTS.c.priority,
    INCIDENTS.c.namespace,
    INCIDENTS.c.service,
    INCIDENTS.c.last_signal_at,
)
_SIGNAL_UPDATE = (
    update(SIGNALS)
    .where(SIGNALS.c.id == bindparam("b_id"))
    .values(
        incident_id=bindparam("incident_id"),
        status=bindparam("status"),
        receive_count=bindparam("receive_count"),
        annotations=bindparam("annotations"),
        starts_at=bindparam("starts_at"),
        ends_at=bindparam("ends_at"),
        updated_at=bindparam("updated_at"),
    )
)
_INCIDENT_UPDATE = (
    update(INCIDENTS)
    .where(INCIDENTS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("status"),
        priority=bindparam("priority"),
        namespace=bindparam("namespace"),
        service=bindparam("service"),
        updated_at=bindparam("updated_at"),
        last_signal_at=bindparam("last_signal_at"),
        resolved_at=bindparam("resolved_at"),
    )
)


@dataclass(frozen=True)
class _HotStatements:
    """The hot path's statements, built once per dialect: no rendering or cache keys per batch."""

    by_fingerprint: Executable
    candidates: Executable
    cascade: Executable
    firing: Executable
    touch_incidents: Executable
    recount: Executable


@cache
def _hot(dialect: str) -> _HotStatements:
    return _HotStatements(
        # signal columns keep their names; incident columns are prefixed `inc_`
        by_fingerprint=select(
            *_SIGNAL_STATE, *(c.label(f"inc_{c.name}") for c in _INCIDENT_STATE)
        )
        .join(INCIDENTS, INCIDENTS.c.id == SIGNALS.c.incident_id)
        .where(in_list(SIGNALS.c.fingerprint, "b_values", dialect)),
        candidates=select(*_INCIDENT_STATE).where(
            in_list(INCIDENTS.c.group_key, "b_values", dialect),
            or_(INCIDENTS.c.status == "open", INCIDENTS.c.last_signal_at >= bindparam("b_since")),
        ),
        cascade=select(*_INCIDENT_STATE).where(
            in_list(INCIDENTS.c.service, "b_values", dialect),
            INCIDENTS.c.status == "open",
            INCIDENTS.c.last_signal_at >= bindparam("b_since"),
        ),
        firing=select(SIGNALS.c.incident_id)
        .where(in_list(SIGNALS.c.incident_id, "b_values", dialect), SIGNALS.c.status == "firing")
        .group_by(SIGNALS.c.incident_id),
        touch_incidents=update(INCIDENTS)
        .where(in_list(INCIDENTS.c.id, "b_values", dialect))
        .values(last_signal_at=bindparam("b_now"), updated_at=bindparam("b_now")),
        recount=update(SIGNALS)
        .where(in_list(SIGNALS.c.id, "b_values", dialect))
        .values(
            receive_count=SIGNALS.c.receive_count + bindparam("b_increment"),
            updated_at=bindparam("b_now"),
        ),
    )


async def _run_hot(
    session: AsyncSession, name: str, values: Iterable[str], **params: Any
) -> Result[Any]:
    dialect = dialect_of(session)
    statement = getattr(_hot(dialect), name)
    return await session.execute(statement, {"b_values": list_value(values, dialect), **params})


async def signals_by_fingerprint(
    session: AsyncSession, fingerprints: Iterable[str]
) -> Sequence[Any]:
    """Load the stored state of these signals and of their incidents, in one query.

    Signal columns keep their names; incident columns are prefixed `inc_`.
    """
    return (await _run_hot(session, "by_fingerprint", fingerprints)).all()


async def grouping_candidates(
    session: AsyncSession, keys: Iterable[str], *, since: datetime
) -> Sequence[Any]:
    """Load incidents a new signal may join: open ones, or ones active since `since`."""
    return (await _run_hot(session, "candidates", keys, b_since=since)).all()


async def cascade_candidates(
    session: AsyncSession, services: Iterable[str], *, since: datetime
) -> Sequence[Any]:
    """Load the open incidents active since `since` whose root candidate is one of `services`."""
    return (await _run_hot(session, "cascade", services, b_since=since)).all()


async def incidents_with_firing_signals(session: AsyncSession, ids: Iterable[str]) -> set[str]:
    """Return which of these incidents still have a firing signal."""
    return set((await _run_hot(session, "firing", ids)).scalars())


async def write_batch(
    session: AsyncSession,
    *,
    new_incidents: Sequence[dict[str, Any]],
    incident_updates: Sequence[dict[str, Any]],
    new_signals: Sequence[dict[str, Any]],
    signal_updates: Sequence[dict[str, Any]],
) -> None:
    """Write a batch with one executemany per kind of change (incidents first: foreign keys)."""
    if new_incidents:
        await session.execute(insert(INCIDENTS), list(new_incidents))
    if incident_updates:
        await session.execute(_INCIDENT_UPDATE, list(incident_updates))
    if new_signals:
        await session.execute(insert(SIGNALS), list(new_signals))
    if signal_updates:
        await session.execute(_SIGNAL_UPDATE, list(signal_updates))


async def touch(
    session: AsyncSession,
    *,
    seen_again: Sequence[str],
    recounted: dict[int, list[str]],
    now: datetime,
) -> None:
    """Record re-sent alerts that changed nothing else: bump counts and activity times."""
    if seen_again:
        await _run_hot(session, "touch_incidents", seen_again, b_now=now)
    for increment, ids in recounted.items():
        await _run_hot(session, "recount", ids, b_now=now, b_increment=increment)


async def get_incident(session: AsyncSession, incident_id: str) -> Incident | None:
    """Return one incident, or None when there is no such incident."""
    return await session.get(Incident, incident_id)


async def list_signals(session: AsyncSession, incident_id: str) -> list[Signal]:
    """Return the signals of an incident, oldest first."""
    result = await session.execute(
        select(Signal)
        .where(Signal.incident_id == incident_id)
        .order_by(Signal.starts_at, Signal.fingerprint)
    )
    return list(result.scalars())


async def list_incidents(
    session: AsyncSession,
    *,
    status: str | None = None,
    priority: str | None = None,
    severity: str | None = None,
    service: str | None = None,
    namespace: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Incident], int]:
    """Return one page of incidents, newest first, and how many match in all."""
    conditions = []
    if status:
        conditions.append(Incident.status == status)
    if priority:
        conditions.append(Incident.priority == priority)
    if service:
        conditions.append(Incident.service == service)
    if namespace:
        conditions.append(Incident.namespace == namespace)
    if severity:
        conditions.append(
            exists().where(Signal.incident_id == Incident.id, Signal.severity == severity)
        )
    where = and_(True, *conditions)
    total = (
        await session.execute(select(func.count()).select_from(Incident).where(where))
    ).scalar_one()
    result = await session.execute(
        select(Incident)
        .where(where)
        .order_by(Incident.opened_at.desc(), Incident.id)
        .limit(limit)
        .offset(offset)
    )
    return list(result.scalars()), int(total)


async def count_signals(session: AsyncSession) -> tuple[int, int]:
    """Return how many signals are stored and the sum of their receive counts."""
    result = await session.execute(
        select(func.count(), func.coalesce(func.sum(SIGNALS.c.receive_count), 0))
    )
    count, received = result.one()
    return int(count), int(received)
