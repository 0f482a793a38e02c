"""Engine and session factory; the caller (request or workflow step) owns the transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import structlog
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# SQLite page cache per connection (KiB, negative in the pragma): the hot indexes of an alert
# storm (signal fingerprints, incident ids, the audit tail) stay in memory
SQLITE_CACHE_KIB = 64 * 1024
# pages in the WAL before a committing writer folds it back into the database itself; the
# background checkpointer (`wal_checkpointer`) normally does it long before, off the commit path
SQLITE_WAL_CHECKPOINT_PAGES = 10_000
SQLITE_WAL_CHECKPOINT_INTERVAL_S = 0.1
SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for the write lock before failing
# a pooled connection's info key: the busy timeout its connection was opened with (SQLite)
BUSY_TIMEOUT_INFO = "warroom.busy_timeout_ms"

log = structlog.get_logger(__name__)


def json_text(value: Any) -> str:
    """Serialise a JSON column (orjson: several times faster than the standard library)."""
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


# what a lost or failing database raises through SQLAlchemy and its drivers: the session it
# happened in is finished, and the work is worth doing again in a new one
DATABASE_TROUBLE = (DBAPIError, PendingRollbackError, ConnectionError)


def make_engine(
    url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS, **kwargs: Any
) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL, a busy timeout, foreign keys and a page cache."""
    kwargs.setdefault("json_serializer", json_text)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, connect_args={"timeout": busy_timeout_ms / 1000}, **kwargs
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_CHECKPOINT_PAGES}")
            cur.close()
            record.info[BUSY_TIMEOUT_INFO] = busy_timeout_ms

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def with_database(url: str, name: str) -> str:
    """Return `url` pointing at the database `name` on the same server."""
    return str(make_url(url).set(database=name).render_as_string(hide_password=False))


async def create_database(url: str, name: str, *, template: str = "") -> str:
    """Create the PostgreSQL database `name` on `url`'s server and return its URL.

    With `template`, the new database is a copy of that one (`CREATE DATABASE … TEMPLATE`):
    a migrated template copies in a fraction of the time the migrations take. For the bench's
    and the test suite's throwaway databases; `drop_database` removes them.
    """
    clause = f' TEMPLATE "{template}"' if template else ""
    await _on_server(url, f'CREATE DATABASE "{name}"{clause}')
    return with_database(url, name)


async def drop_database(url: str, name: str) -> None:
    """Drop the database `name` on `url`'s server, closing whatever is still connected to it."""
    await _on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _on_server(url: str, statement: str) -> None:
    # CREATE and DROP DATABASE cannot run inside a transaction; an engine of its own, since
    # an asyncpg engine belongs to the event loop that opened it
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


def eager_writer_engine(engine: AsyncEngine) -> AsyncEngine | None:
    """Return a one-connection engine on `engine`'s SQLite file that never waits in SQLite.

    For ingestion's group commit, which asks for the write lock itself every few ms
    (`audit.lock_chain(eager=True)`): with a busy timeout of 0 from the start, it no longer
    sets one and restores it around every commit, two statements (each a hop to the
    connection's thread) in every group commit. None for other databases and for an in-memory
    SQLite database (a second engine would open another database).
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return make_engine(
        engine.url.render_as_string(hide_password=False), busy_timeout_ms=0,
        pool_size=1, max_overflow=1,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory for an engine."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Open a session that commits on success and rolls back on any error."""
    async with sessions() as session, session.begin():
        yield session


@asynccontextmanager
async def wal_checkpointer(
    engine: AsyncEngine, interval: float = SQLITE_WAL_CHECKPOINT_INTERVAL_S
) -> AsyncIterator[None]:
    """Checkpoint a SQLite database's WAL in the background while the context is open.

    Left to itself, SQLite checkpoints inside the COMMIT that crosses the WAL threshold: under an
    alert storm that commit (and every webhook waiting on it) took 35 to 55 ms longer. A passive
    checkpoint runs beside writers and readers, so one every `interval` seconds on a connection
    of its own (its own thread, with aiosqlite) keeps the WAL short and commits fast. Small and
    frequent is best: the storm's ack p99 was about 110 ms checkpointing every second, about
    95 ms every 0.25 s and 87 ms every 0.1 s. Other databases need nothing: the context does
    nothing for them.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        yield
        return

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                async with engine.connect() as conn:
                    await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
            except Exception as exc:  # the commit-time checkpoint remains as a fallback
                log.warning("store.wal_checkpoint_failed", error=str(exc))

    task = asyncio.create_task(run(), name="sqlite-wal-checkpointer")
    try:
        yield
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
