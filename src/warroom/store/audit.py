"""The append-only, hash-chained audit trail: every row seals the one before it.

Each row's hash is sha256(previous hash + canonical JSON of the row). Writers are serialised so
that concurrent transactions cannot fork the chain: on PostgreSQL a transaction-scoped advisory
lock is taken before the last hash is read; on SQLite the database write lock is taken early
(`BEGIN IMMEDIATE`) for the same effect. There is deliberately no update or delete here, and the
database refuses both (triggers from migration 0001).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from warroom.store.db import BUSY_TIMEOUT_INFO, SQLITE_BUSY_TIMEOUT_MS
from warroom.store.tables import AuditEvent
from warroom.store.times import utc

AUDIT = cast(Table, AuditEvent.__table__)
GENESIS_HASH = "0" * 64
# an arbitrary, fixed key: every warroom process serialises its audit writers on it
ADVISORY_LOCK_KEY = 0x5741_5252_4F4F_4D  # "WARROOM"
SQLITE_EAGER_POLL_S = 0.002
# session.info key: a coroutine function `lock_chain` awaits before it begins to write on SQLite
# (the workflow runtime's turn at the write lock, taken only when a transaction starts writing)
WRITE_TURN = "warroom.write_turn"
SQLITE_EAGER_WAIT_S = SQLITE_BUSY_TIMEOUT_MS / 1000


@dataclass(frozen=True)
class ChainReport:
    """Outcome of re-computing the chain: `first_bad_seq` is the first row that fails."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None


@dataclass(frozen=True)
class NewEvent:
    """One audit row to append (see `append_many`)."""

    kind: str
    payload: dict[str, Any]
    actor: str = "warroom"
    incident_id: str | None = None
    decision_token: str | None = None
    session_id: str | None = None
    at: datetime | None = None


def _stamp(at: datetime) -> str:
    return utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compute_hash(
    prev_hash: str,
    *,
    at: datetime | str,
    kind: str,
    actor: str,
    incident_id: str | None,
    decision_token: str | None,
    session_id: str | None,
    payload: dict[str, Any],
) -> str:
    """Hash one row over its content and the previous hash, independent of the database."""
    body = orjson.dumps(
        {
            "at": at if isinstance(at, str) else _stamp(at),
            "kind": kind,
            "actor": actor,
            "incident_id": incident_id,
            "decision_token": decision_token,
            "session_id": session_id,
            "payload": payload,
        },
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


async def lock_chain(session: AsyncSession, *, eager: bool = False) -> None:
    """Take the writer lock for the rest of the transaction; call before reading the chain head.

    Callers that write other tables before appending (ingestion) call it first, so that their
    whole transaction is serialised and the write lock is never upgraded mid-transaction.

    `eager` (ingestion, whose every webhook waits on it): on SQLite, ask for the lock every
    `SQLITE_EAGER_POLL_S` instead of through SQLite's busy handler, whose waits grow to 100 ms.
    That handler is not first come, first served: while workflow steps kept taking the lock,
    an alert storm's writer waited 1 to 2.5 s for it. PostgreSQL queues lock waiters fairly.
    """
    conn = await session.connection()
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        return
    if conn.dialect.name == "sqlite":
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        # legacy sqlite3 transaction control begins lazily at the first write; begin now, as a
        # writer, so no one can append between our read of the head and our insert
        if driver is None or driver.in_transaction:
            return
        take_turn = session.info.pop(WRITE_TURN, None)
        if take_turn is not None:
            await take_turn()
        if not eager:
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        if conn.info.get(BUSY_TIMEOUT_INFO) == 0:  # a connection that never waits in SQLite
            await _begin_eagerly(conn)
            return
        await conn.exec_driver_sql("PRAGMA busy_timeout=0")
        try:
            await _begin_eagerly(conn)
        finally:
            await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


async def _begin_eagerly(conn: AsyncConnection) -> None:
    """Ask for SQLite's write lock every `SQLITE_EAGER_POLL_S` (the busy timeout is 0)."""
    deadline = time.monotonic() + SQLITE_EAGER_WAIT_S
    while True:
        try:
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(SQLITE_EAGER_POLL_S)


_HEAD = "warroom.audit.head"  # session.info key: (transaction, chain head it appended last)


def _innermost(session: AsyncSession) -> Any:
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


async def _head(session: AsyncSession) -> str:
    """Return the chain head: the one this transaction appended last, or read it.

    The writer lock (taken before) keeps every other writer out until the commit, so the head
    this transaction wrote is still the head; a savepoint that rolled back is another
    transaction, and reads again. A worker step that appends three rows saves two reads under
    SQLite's one write lock.
    """
    cached = session.info.get(_HEAD)
    if cached is not None and cached[0] is _innermost(session):
        return str(cached[1])
    result = await session.execute(select(AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1))
    return result.scalar_one_or_none() or GENESIS_HASH


async def _chain(session: AsyncSession, events: Sequence[NewEvent]) -> list[dict[str, Any]]:
    """Take the writer lock and return the rows extending the chain, each sealing the last."""
    await lock_chain(session)
    prev = await _head(session)
    now = datetime.now(UTC)
    stamps: dict[datetime, tuple[datetime, str]] = {}  # a batch shares one or few instants
    rows: list[dict[str, Any]] = []
    for event in events:
        given = event.at or now
        if given not in stamps:
            stamps[given] = (utc(given), _stamp(given))
        at, stamp = stamps[given]
        # store exactly what was hashed: datetimes, enums and models become their JSON form
        payload = orjson.loads(orjson.dumps(event.payload, option=orjson.OPT_NON_STR_KEYS))
        digest = compute_hash(
            prev,
            at=stamp,
            kind=event.kind,
            actor=event.actor,
            incident_id=event.incident_id,
            decision_token=event.decision_token,
            session_id=event.session_id,
            payload=payload,
        )
        rows.append(
            {
                "at": at,
                "kind": event.kind,
                "actor": event.actor,
                "incident_id": event.incident_id,
                "decision_token": event.decision_token,
                "session_id": event.session_id,
                "payload": payload,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    return rows


def _appended(session: AsyncSession, head: str) -> None:
    """Remember the head this transaction wrote (call once the insert succeeded)."""
    session.info[_HEAD] = (_innermost(session), head)


async def append_many(session: AsyncSession, events: Sequence[NewEvent]) -> str:
    """Append rows in order with one statement and return the new chain head hash."""
    if not events:
        return ""
    rows = await _chain(session, events)
    await session.execute(insert(AUDIT), rows)
    head = str(rows[-1]["hash"])
    _appended(session, head)
    return head


async def append(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    actor: str = "warroom",
    incident_id: str | None = None,
    decision_token: str | None = None,
    session_id: str | None = None,
) -> AuditEvent:
    """Append one row to the chain and return it (detached from the session); the caller commits."""
    [row] = await _chain(
        session,
        [
            NewEvent(
                kind=kind,
                payload=payload,
                actor=actor,
                incident_id=incident_id,
                decision_token=decision_token,
                session_id=session_id,
            )
        ],
    )
    # the sequence number comes back with the insert: no second statement reads the row back
    seq = (await session.execute(insert(AUDIT).returning(AUDIT.c.seq), row)).scalar_one()
    _appended(session, str(row["hash"]))
    return AuditEvent(seq=seq, **row)


async def list_events(
    session: AsyncSession,
    *,
    incident_id: str | None = None,
    decision_token: str | None = None,
    kind: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[AuditEvent]:
    """Return audit rows in chain order, optionally for one incident, decision or kind."""
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if incident_id is not None:
        query = query.where(AuditEvent.incident_id == incident_id)
    if decision_token is not None:
        query = query.where(AuditEvent.decision_token == decision_token)
    if kind is not None:
        query = query.where(AuditEvent.kind == kind)
    result = await session.execute(query.limit(limit).offset(offset))
    return list(result.scalars())


async def head_seq(session: AsyncSession) -> int:
    """Return the chain's last sequence number (0 when the chain is empty)."""
    return int((await session.execute(select(func.max(AuditEvent.seq)))).scalar() or 0)


async def events_after(session: AsyncSession, seq: int, *, limit: int) -> list[AuditEvent]:
    """Return up to `limit` audit rows after `seq`, in chain order (the event stream's tail)."""
    result = await session.execute(
        select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq).limit(limit))
    return list(result.scalars())


async def count_events(session: AsyncSession, *, incident_id: str | None = None) -> int:
    """Count the audit rows, of one incident when named."""
    query = select(func.count()).select_from(AuditEvent)
    if incident_id:
        query = query.where(AuditEvent.incident_id == incident_id)
    return int((await session.execute(query)).scalar_one())


async def verify_chain(session: AsyncSession, *, batch: int = 5000) -> ChainReport:
    """Re-compute every hash in order and report the first row that does not match."""
    prev = GENESIS_HASH
    checked = 0
    last_seq = 0
    while True:
        result = await session.execute(
            select(
                AuditEvent.seq,
                AuditEvent.at,
                AuditEvent.kind,
                AuditEvent.actor,
                AuditEvent.incident_id,
                AuditEvent.decision_token,
                AuditEvent.session_id,
                AuditEvent.payload,
                AuditEvent.prev_hash,
                AuditEvent.hash,
            )
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        )
        rows = result.all()
        if not rows:
            return ChainReport(ok=True, checked=checked)
        for row in rows:
            expected = compute_hash(
                prev,
                at=row.at,
                kind=row.kind,
                actor=row.actor,
                incident_id=row.incident_id,
                decision_token=row.decision_token,
                session_id=row.session_id,
                payload=row.payload,
            )
            if row.prev_hash != prev or row.hash != expected:
                return ChainReport(ok=False, checked=checked, first_bad_seq=row.seq)
            prev = row.hash
            checked += 1
            last_seq = row.seq
