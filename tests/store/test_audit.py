from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from warroom.store import audit
from warroom.store.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    eager_writer_engine,
    make_engine,
    make_sessionmaker,
    transaction,
)
from warroom.store.migrate import upgrade


async def test_append_chains_rows_and_verifies(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        first = await audit.append(
            session, kind="test.first", payload={"n": 1, "at": datetime(2026, 1, 1, tzinfo=UTC)}
        )
        second = await audit.append(
            session, kind="test.second", payload={"n": 2}, incident_id="inc-1", actor="alice"
        )
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.payload == {"n": 1, "at": "2026-01-01T00:00:00+00:00"}
    async with sessions() as session:
        report = await audit.verify_chain(session)
        rows = await audit.list_events(session, incident_id="inc-1")
    assert report == audit.ChainReport(ok=True, checked=2, first_bad_seq=None)
    assert [r.kind for r in rows] == ["test.second"]
    assert rows[0].actor == "alice"


async def test_append_many_writes_one_chain_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    events = [audit.NewEvent(kind="bulk", payload={"i": i}) for i in range(50)]
    async with transaction(sessions) as session:
        head = await audit.append_many(session, events)
        await audit.append(session, kind="after", payload={})
    async with sessions() as session:
        rows = await audit.list_events(session)
        report = await audit.verify_chain(session, batch=7)
    assert [r.payload.get("i") for r in rows[:50]] == list(range(50))
    assert rows[49].hash == head
    assert rows[50].prev_hash == head
    assert report.ok and report.checked == 51


async def test_concurrent_writers_do_not_fork_the_chain(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def writer(n: int) -> None:
        for i in range(5):
            async with transaction(sessions) as session:
                await audit.append(session, kind="race", payload={"w": n, "i": i})

    await asyncio.gather(*(writer(n) for n in range(4)))
    async with sessions() as session:
        report = await audit.verify_chain(session)
    assert report.ok and report.checked == 20


async def test_a_transaction_reads_the_chain_head_once(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        await audit.append(session, kind="before", payload={})
    statements: list[str] = []

    def seen(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with transaction(sessions) as session:
            first = await audit.append(session, kind="one", payload={})
            await audit.append_many(session, [audit.NewEvent(kind="two", payload={})])
            third = await audit.append(session, kind="three", payload={})
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    # the head it wrote is the head while it holds the writer lock: read once, never read back
    assert sum("FROM audit_events" in s for s in statements) == 1
    assert sum(s.lstrip().upper().startswith("INSERT") for s in statements) == 3
    assert third.seq == first.seq + 2
    async with sessions() as session:
        rows = await audit.list_events(session)
        report = await audit.verify_chain(session)
    assert [r.kind for r in rows] == ["before", "one", "two", "three"]
    assert rows[3].hash == third.hash and rows[1].seq == first.seq
    assert report.ok and report.checked == 4


async def test_a_rolled_back_savepoint_does_not_leave_a_stale_head(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        await audit.append(session, kind="kept", payload={})
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                await audit.append(session, kind="undone", payload={})
                raise RuntimeError("roll the savepoint back")
        await audit.append(session, kind="after", payload={})
        async with session.begin_nested():
            await audit.append(session, kind="released", payload={})
        await audit.append(session, kind="last", payload={})
    async with sessions() as session:
        rows = await audit.list_events(session)
        report = await audit.verify_chain(session)
    assert [r.kind for r in rows] == ["kept", "after", "released", "last"]
    assert report.ok and report.checked == 4


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET kind = 'x'", "DELETE FROM audit_events"]
)
async def test_database_refuses_update_and_delete(
    sessions: async_sessionmaker[AsyncSession], statement: str
) -> None:
    async with transaction(sessions) as session:
        await audit.append(session, kind="keep", payload={})
    with pytest.raises(DBAPIError, match="append-only"):
        async with transaction(sessions) as session:
            await session.execute(text(statement))
    async with sessions() as session:
        rows = await audit.list_events(session)
    assert [r.kind for r in rows] == ["keep"]


async def test_verify_detects_tampering(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        for i in range(3):
            await audit.append(session, kind="step", payload={"i": i})
    # an attacker with database rights lifts the guard and rewrites history
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER audit_events_no_update"))
        await conn.execute(
            text("UPDATE audit_events SET payload = :p WHERE seq = 2"), {"p": '{"i": 99}'}
        )
    async with sessions() as session:
        report = await audit.verify_chain(session)
    assert report == audit.ChainReport(ok=False, checked=1, first_bad_seq=2)


async def _hold_the_write_lock(holder: AsyncConnection, *, release_after: float
                               ) -> asyncio.Task[None]:
    """Take SQLite's write lock on `holder` (another writer) and let it go after a while."""
    await holder.exec_driver_sql("BEGIN IMMEDIATE")

    async def release() -> None:
        await asyncio.sleep(release_after)
        await holder.exec_driver_sql("COMMIT")

    return asyncio.create_task(release())


async def test_an_eager_writer_takes_the_sqlite_lock_as_soon_as_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}")
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    try:
        async with engine.connect() as holder:
            releasing = await _hold_the_write_lock(holder, release_after=0.3)
            async with transaction(sessions) as session:
                await audit.lock_chain(session, eager=True)
                await audit.append(session, kind="after.wait", payload={})
            await releasing
            # the connection's normal busy timeout is back for whoever uses it next
            async with sessions() as session:
                timeout = (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()
            assert timeout == SQLITE_BUSY_TIMEOUT_MS

            await holder.exec_driver_sql("BEGIN IMMEDIATE")
            monkeypatch.setattr(audit, "SQLITE_EAGER_WAIT_S", 0.2)
            started = asyncio.get_running_loop().time()
            with pytest.raises(OperationalError, match="locked"):
                async with transaction(sessions) as session:
                    await audit.lock_chain(session, eager=True)
            # its own deadline, not the 30 s busy timeout of every other writer
            assert asyncio.get_running_loop().time() - started < 10
            await holder.exec_driver_sql("ROLLBACK")
        async with sessions() as session:
            assert (await audit.verify_chain(session)).checked == 1
    finally:
        await engine.dispose()


async def test_the_eager_writer_engine_waits_for_the_lock_without_changing_its_timeout(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}")
    await upgrade(engine)
    writer = eager_writer_engine(engine)
    assert writer is not None
    statements: list[str] = []

    def seen(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(writer.sync_engine, "before_cursor_execute", seen)
    try:
        async with engine.connect() as holder:
            releasing = await _hold_the_write_lock(holder, release_after=0.2)
            async with transaction(make_sessionmaker(writer)) as session:
                await audit.lock_chain(session, eager=True)
                await audit.append(session, kind="after.wait", payload={})
                timeout = (await session.execute(text("PRAGMA busy_timeout"))).scalar_one()
            await releasing
        assert timeout == 0
        # it asked again and again, and never set a busy timeout to ask
        assert statements.count("BEGIN IMMEDIATE") > 1
        assert not any(s.startswith("PRAGMA busy_timeout=") for s in statements)
        async with make_sessionmaker(engine)() as session:
            assert (await audit.verify_chain(session)).checked == 1
            # the app's other connections keep waiting in SQLite as before
            assert (await session.execute(text("PRAGMA busy_timeout"))).scalar_one() == (
                SQLITE_BUSY_TIMEOUT_MS
            )
    finally:
        await writer.dispose()
        await engine.dispose()


async def test_an_eager_writer_engine_is_made_for_a_sqlite_file_only(engine: AsyncEngine) -> None:
    writer = eager_writer_engine(engine)
    try:
        if engine.dialect.name == "sqlite":
            assert writer is not None and writer.url.database == engine.url.database
        else:  # PostgreSQL queues lock waiters fairly: ingestion shares the app's pool
            assert writer is None
    finally:
        if writer is not None:
            await writer.dispose()
    memory = make_engine("sqlite+aiosqlite:///:memory:")  # a second engine: another database
    assert eager_writer_engine(memory) is None
    await memory.dispose()
