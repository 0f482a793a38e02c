"""The notify context's parts for one app: its adapters, the sender, the click verifiers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.decisions.ports import ApprovalWaker
from warroom.notify.models import ChatAnswer
from warroom.notify.ports import ChatAdapter, IdentityDirectory
from warroom.notify.sender import Sender, adapter_key
from warroom.notify.service import ChatContext
from warroom.notify.webhook import WebhookAdapter

if TYPE_CHECKING:
    from slack_sdk.signature import SignatureVerifier

    from warroom.notify.telegram import TelegramAdapter

log = structlog.get_logger(__name__)


def build_adapters(settings: Settings) -> dict[str, ChatAdapter]:
    """Create an adapter for every platform that has credentials, keyed as routes name them.

    Each platform's client library is imported only when it is configured (about a second
    each, cold): an app without chat starts as fast as before.
    """
    adapters: dict[str, ChatAdapter] = {}
    timeout = settings.notify_send_timeout_seconds
    slack_token = settings.notify_slack_bot_token.get_secret_value()
    if slack_token:
        # lazy: cold import cost (python -X importtime): warroom.notify.slack ~493 ms (pulls
        # aiohttp, slack_sdk), warroom.notify.telegram ~278 ms; kept off the module's import path
        from warroom.notify.slack import SlackAdapter

        adapters["slack"] = SlackAdapter(slack_token, base_url=settings.notify_slack_api_url,
                                         timeout=timeout)
    telegram_token = settings.notify_telegram_bot_token.get_secret_value()
    if telegram_token:
        from warroom.notify.telegram import TelegramAdapter

        adapters["telegram"] = TelegramAdapter(
            telegram_token, base_url=settings.notify_telegram_api_url, timeout=timeout
        )
    for name, target in settings.notify_webhooks.items():
        adapters[f"webhook:{name}"] = WebhookAdapter(
            target.url, target.secret.get_secret_value(), timeout=timeout
        )
    return adapters


class NotifyHub:
    """Holds what the chat endpoints and the sender share for the app's lifetime."""

    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession], *,
                 directory: IdentityDirectory | None,
                 adapters: dict[str, ChatAdapter] | None = None) -> None:
        self.settings = settings
        self.sessions = sessions
        self.directory = directory
        # what wakes a waiting workflow: set by the composition root once its client started
        self.waker: ApprovalWaker | None = None
        self.adapters = adapters if adapters is not None else build_adapters(settings)
        self.sender = Sender(sessions, settings, self.adapters)
        secret = settings.notify_slack_signing_secret.get_secret_value()
        self.slack_verifier: SignatureVerifier | None = None
        if secret:
            # lazy: cold import cost (python -X importtime): slack_sdk ~170 ms,
            # warroom.notify.telegram ~278 ms; kept off the module's import path
            from slack_sdk.signature import SignatureVerifier

            self.slack_verifier = SignatureVerifier(secret)
        self.telegram: TelegramAdapter | None = None
        if "telegram" in self.adapters:
            from warroom.notify.telegram import TelegramAdapter

            telegram = self.adapters["telegram"]
            self.telegram = telegram if isinstance(telegram, TelegramAdapter) else None

    def context(self) -> ChatContext:
        """Return what answering a click needs, with the workflow waker of the running app."""
        return ChatContext(self.sessions, self.settings, self.directory, self.waker)

    async def tell(self, answer: ChatAnswer, text: str) -> None:
        """Say something in the thread of the card that was clicked; log if it fails."""
        key, target = adapter_key(answer.destination)
        adapter = self.adapters.get(key)
        if adapter is None:
            return
        try:
            await asyncio.wait_for(adapter.tell(target, answer.ref, text),
                                   self.settings.notify_send_timeout_seconds)
        except Exception as exc:  # the click is already refused; telling it is best effort
            log.warning("notify.tell_failed", destination=answer.destination, error=str(exc))

    async def acknowledge(self, query_id: str, text: str) -> None:
        """Answer a Telegram button press (the toast the person sees); log if it fails."""
        if self.telegram is None:
            return
        try:
            await asyncio.wait_for(self.telegram.acknowledge(query_id, text),
                                   self.settings.notify_send_timeout_seconds)
        except Exception as exc:  # best effort, as above
            log.warning("notify.acknowledge_failed", error=str(exc))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Run the outbox sender in the background while the app serves."""
        task = asyncio.create_task(self.sender.run(), name="warroom-notify-sender")
        try:
            yield
        finally:
            self.sender.stopping = True
            task.cancel()
            # bounded: a send in flight ends within its timeout, and the loop sees the flag
            await asyncio.wait({task}, timeout=self.settings.notify_send_timeout_seconds + 1)
            if not task.done():
                log.warning("notify.sender_still_running", after="shutdown")
            await self.sender.aclose()
