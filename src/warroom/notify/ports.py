"""What notify needs from outside: a chat platform to deliver to, and who a user is."""

from __future__ import annotations

from typing import Protocol

from warroom.access.models import Identity
from warroom.notify.models import ChatEvent, MessageRef


class ChatAdapter(Protocol):
    """Delivers decision cards to one platform (Slack, Telegram, a generic webhook).

    Every method raises on failure, so the sender retries the delivery later.
    """

    platform: str
    # True: the event's note goes in the card's thread through `tell` (chat); False: `show`
    # already carried it (a webhook posts the whole event at once)
    threaded: bool

    async def show(self, target: str, event: ChatEvent, ref: MessageRef | None) -> MessageRef:
        """Post the card (no `ref` yet) or edit it in place; return where it lives."""

    async def tell(self, target: str, ref: MessageRef, text: str) -> None:
        """Post `text` in the card's thread (an event's note, or why a click was refused)."""

    async def aclose(self) -> None:
        """Release the adapter's connections."""


class IdentityDirectory(Protocol):
    """Finds a warroom user by name: the access context's user store behind a port."""

    async def get(self, name: str) -> Identity | None:
        """Return the identity named `name`, or None when there is no such user."""
