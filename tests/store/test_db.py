from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from warroom.store.db import make_engine, wal_checkpointer


async def test_checkpointer_folds_the_wal_into_the_database_in_the_background(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.sqlite"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
        async with engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        before = path.stat().st_size
        async with engine.begin() as conn:  # well under the commit-time threshold
            await conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": "y" * 500}] * 200)
        assert path.stat().st_size == before  # the rows are in the WAL only

        async with wal_checkpointer(engine, interval=0.05):
            for _ in range(100):
                await asyncio.sleep(0.05)
                if path.stat().st_size > before:
                    break
        assert path.stat().st_size > before
    finally:
        await engine.dispose()


async def test_checkpointer_does_nothing_for_an_in_memory_database() -> None:
    engine = make_engine("sqlite+aiosqlite:///:memory:")
    try:
        async with wal_checkpointer(engine, interval=0.01):
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
