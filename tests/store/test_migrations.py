from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.store import audit
from warroom.store.db import make_sessionmaker, transaction
from warroom.store.migrate import alembic_config, upgrade


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _hash_is_unique(engine: AsyncEngine) -> bool:
    def check(connection: Connection) -> bool:
        inspector: Any = inspect(connection)
        constraints = inspector.get_unique_constraints("audit_events")
        indexes = inspector.get_indexes("audit_events")
        return any(c["column_names"] == ["hash"] for c in constraints) or any(
            i["column_names"] == ["hash"] and i["unique"] for i in indexes
        )

    async with engine.connect() as conn:
        return bool(await conn.run_sync(check))


async def test_0002_keeps_the_trail_and_its_protection_without_the_hash_index(
    blank_engine: AsyncEngine,
) -> None:
    await upgrade(blank_engine, "0001")
    sessions = make_sessionmaker(blank_engine)
    events = [audit.NewEvent(kind="before", payload={"i": i}, incident_id="inc") for i in range(5)]
    async with transaction(sessions) as session:
        await audit.append_many(session, events)
    assert await _hash_is_unique(blank_engine)

    await upgrade(blank_engine)

    assert not await _hash_is_unique(blank_engine)
    async with transaction(sessions) as session:
        await audit.append(session, kind="after", payload={}, incident_id="inc")
    async with sessions() as session:
        assert await audit.verify_chain(session) == audit.ChainReport(ok=True, checked=6)
        assert len(await audit.list_events(session, incident_id="inc")) == 6
    for statement in ("UPDATE audit_events SET kind = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with blank_engine.begin() as conn:
                await conn.execute(text(statement))

    await _downgrade(blank_engine, "0001")

    assert await _hash_is_unique(blank_engine)
    async with sessions() as session:
        assert (await audit.verify_chain(session)).checked == 6
