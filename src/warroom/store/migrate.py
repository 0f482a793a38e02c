"""Schema migrations, run by the app on start and by `warroom db upgrade`."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock key taken for the migration's transaction ("warroom" in ASCII)
MIGRATION_LOCK = 0x77_61_72_72_6F_6F_6D


def alembic_config(url: str = "") -> Config:
    """Build the Alembic configuration without an ini file."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


@asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold an exclusive lock on `<database>.migrate.lock` (SQLite runs DDL outside of a
    transaction, so two processes starting together would both create the same table)."""
    path = engine.url.database
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.migrate.lock", "a") as lock:
        await asyncio.to_thread(fcntl.flock, lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database behind `engine` to `revision`, one process at a time: API replicas
    and workers that start together wait for the first one's migration, then find nothing to
    do."""

    def _upgrade(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    if engine.dialect.name == "sqlite":
        async with _sqlite_file_lock(engine), engine.begin() as conn:
            await conn.run_sync(_upgrade)
        return
    async with engine.begin() as conn:
        # released when the transaction (the whole migration) commits or rolls back
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(_upgrade)
