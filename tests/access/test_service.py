"""Users and tokens in the database: names, expiry, disabling, and the chat look-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.access import service
from warroom.access.models import AccessError, Identity, Role
from warroom.store import audit
from warroom.store.db import transaction


async def test_a_token_works_until_it_expires_and_names_are_case_blind(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    then = datetime.now(UTC) - timedelta(days=10)
    async with transaction(sessions) as session:
        old = await service.create_token(session, name="Alice", role=Role.approver, days=3,
                                         actor="test", now=then)
        fresh = await service.create_token(session, name="alice", role=None, days=3,
                                           actor="test")
    assert old.token.startswith("wr_") and old.token != fresh.token
    async with sessions() as session:
        assert await service.identify_token(session, old.token) is None  # expired
        assert await service.identify_token(session, fresh.token) == Identity(
            name="alice", role=Role.approver)
        assert await service.identify_token(session, "wr_" + "x" * 43) is None
        assert await service.get_identity(session, name="ALICE") == Identity(
            name="alice", role=Role.approver)
        assert await service.get_identity(session, name="nobody") is None
        assert await service.get_identity(session, name="not a name!") is None
        kinds = [(e.kind, e.payload.get("user")) for e in await audit.list_events(session)]
    assert kinds == [("access.user_saved", "alice"), ("access.token_created", "alice"),
                     ("access.token_created", "alice")]


async def test_a_disabled_user_loses_its_tokens_and_the_chat_look_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        new = await service.create_token(session, name="bob", role=Role.admin, days=1,
                                         actor="test")
        await service.save_user(session, name="bob", role=Role.admin, disabled=True,
                                actor="test")
    async with sessions() as session:
        assert await service.identify_token(session, new.token) is None
        assert await service.get_identity(session, name="bob") is None
    async with transaction(sessions) as session:
        with pytest.raises(AccessError, match="disabled"):
            await service.create_token(session, name="bob", role=None, days=1, actor="test")
    async with transaction(sessions) as session:
        with pytest.raises(AccessError, match="user name"):
            await service.create_token(session, name=" ", role=Role.viewer, days=1,
                                       actor="test")
