from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from warroom.store.db import create_database, drop_database, make_engine, wal_checkpointer


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


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_database_made_from_a_template_has_its_rows_and_drops_while_in_use(
    database_url: str,
) -> None:
    server = database_url  # any database on the server will do for creating others
    template, copy = (f"t_{uuid.uuid4().hex[:12]}" for _ in range(2))
    template_url = await create_database(server, template)
    try:
        source = make_engine(template_url)
        async with source.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES ('kept')"))
        await source.dispose()

        copy_url = await create_database(server, copy, template=template)
        assert copy_url.rsplit("/", 1)[-1] == copy
        engine = make_engine(copy_url)
        conn = await engine.connect()
        assert (await conn.execute(text("SELECT x FROM t"))).scalar_one() == "kept"
        await drop_database(server, copy)  # while this connection is open
        with contextlib.suppress(DBAPIError):  # the server closed it
            await conn.close()
        await engine.dispose()
        probe = make_engine(copy_url)
        with pytest.raises(DBAPIError, match="does not exist"):
            async with probe.connect():
                pass
        await probe.dispose()
    finally:
        await drop_database(server, copy)
        await drop_database(server, template)
