"""Notify test kit: the fake platforms, and the real app with its worker wired to them."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# importable whatever pytest's import mode (prepend, append or importlib)
sys.path.insert(0, str(Path(__file__).parents[1] / "workflow"))
sys.path.insert(0, str(Path(__file__).parent))

from platforms import (  # noqa: E402
    SLACK_SECRET,
    SLACK_TOKEN,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    WEBHOOK_SECRET,
    FakePlatforms,
    running_platforms,
)
from wfkit import ScriptedDebate, wf_settings  # noqa: E402

from warroom.access.models import Identity, Role  # noqa: E402
from warroom.api.app import container_of
from warroom.api.testing import AppClient, app_client  # noqa: E402
from warroom.config import Settings  # noqa: E402
from warroom.notify.hub import NotifyHub  # noqa: E402
from warroom.store.tables import Approval, Execution  # noqa: E402

__all__ = ["wf_settings"]

CHAT = -1001234


class FakeDirectory:
    """The access context's user store, as the notify port sees it."""

    def __init__(self, users: dict[str, Role]) -> None:
        self.users = users

    async def get(self, name: str) -> Identity | None:
        role = self.users.get(name)
        return Identity(name=name, role=role) if role else None


DIRECTORY = FakeDirectory({"alice": Role.approver, "bob": Role.admin, "victor": Role.viewer})


def notify_settings(base: Settings, fake: FakePlatforms, **update: Any) -> Settings:
    """Settings routing the fixture's incident to Slack, Telegram and a webhook on the fake."""
    values: dict[str, Any] = {
        "notify_routes": [{"to": "slack:C_OPS", "namespaces": ["shop"]},
                          {"to": f"telegram:{CHAT}", "priorities": ["P0", "P1"]},
                          {"to": "webhook:ops"}],
        "notify_slack_bot_token": SLACK_TOKEN,
        "notify_slack_signing_secret": SLACK_SECRET,
        "notify_slack_api_url": f"{fake.url}/slack/api/",
        "notify_slack_users": {"U_ALICE": "alice", "U_BOB": "bob", "U_VICTOR": "victor",
                               "U_GHOST": "ghost"},
        "notify_telegram_bot_token": TELEGRAM_TOKEN,
        "notify_telegram_webhook_secret": TELEGRAM_SECRET,
        "notify_telegram_api_url": f"{fake.url}/telegram/bot",
        "notify_telegram_users": {"11": "alice", "22": "bob", "33": "victor"},
        "notify_webhooks": {"ops": {"url": f"{fake.url}/hook", "secret": WEBHOOK_SECRET}},
        "notify_poll_seconds": 0.05,
        # room for the test to post the resolved alert before verification looks
        "verify_warmup_seconds": 3.0,
        "notify_retry_base_seconds": 0.05,
        "notify_retry_max_seconds": 0.2,
    }
    values.update(update)
    return Settings.model_validate({**base.model_dump(), **values})


@dataclass
class Chat:
    client: AppClient
    app: FastAPI
    fake: FakePlatforms

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return container_of(self.app).sessions

    async def executions(self, token: str) -> int:
        async with self.sessions() as session:
            stmt = select(func.count()).select_from(Execution).where(
                Execution.decision_token == token)
            return int((await session.execute(stmt)).scalar_one())

    async def approvals(self, token: str) -> list[str]:
        async with self.sessions() as session:
            rows = (await session.execute(select(Approval).where(
                Approval.decision_token == token).order_by(Approval.id))).scalars().all()
            return [f"{a.approver}:{a.verdict}:{a.via}" for a in rows]


ChatFactory = Callable[..., Any]


@pytest.fixture
def chat_app(wf_settings: Settings, engine: AsyncEngine) -> ChatFactory:
    """Start the fake platforms and the real app (worker, notify) wired to them."""

    @asynccontextmanager
    async def start(debate: ScriptedDebate, **update: Any) -> AsyncIterator[Chat]:
        async with running_platforms() as fake:
            settings = notify_settings(wf_settings, fake, **update)
            holder: list[FastAPI] = []

            def configure(app: FastAPI) -> None:
                container = container_of(app)
                container.notify = NotifyHub(settings, container.sessions, directory=DIRECTORY)
                holder.append(app)

            async with app_client(settings, engine=engine, configure=configure,
                                  runtime={"analyzer": debate}) as client:
                yield Chat(client, holder[0], fake)

    return start
