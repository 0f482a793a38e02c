"""Generic webhook adapter: every event as signed JSON, for PagerDuty, Opsgenie or a team's bot.

The signature is HMAC-SHA256 over `"{timestamp}." + body` with the route's secret, sent as
`X-Warroom-Signature: sha256=<hex>` beside `X-Warroom-Timestamp: <unix seconds>`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import orjson

from warroom.notify.models import ChatEvent, MessageRef

SIGNATURE_HEADER = "X-Warroom-Signature"
TIMESTAMP_HEADER = "X-Warroom-Timestamp"
DELIVERY_HEADER = "X-Warroom-Delivery"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str, *,
           now: float | None = None, tolerance: float = 300.0) -> bool:
    """Tell whether a received body is ours and fresh (what a receiver should check)."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookAdapter:
    """Posts each event as JSON to the configured URL, signed with its secret."""

    platform = "webhook"
    threaded = False

    def __init__(self, url: str, secret: str, *, timeout: float) -> None:
        self.url = url
        self.secret = secret
        self.client = httpx.AsyncClient(timeout=timeout)

    async def _post(self, body: dict[str, object], delivery: str) -> None:
        raw = orjson.dumps(body)
        stamp = str(int(time.time()))
        response = await self.client.post(self.url, content=raw, headers={
            "Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(self.secret, stamp, raw), DELIVERY_HEADER: delivery,
        })
        response.raise_for_status()

    async def show(self, target: str, event: ChatEvent, ref: MessageRef | None) -> MessageRef:
        """Post the event with the decision as it is now."""
        await self._post({"event": event.kind, "note": event.note,
                          "decision": event.card.model_dump(mode="json")},
                         str(event.outbox_id))
        return MessageRef()

    async def tell(self, target: str, ref: MessageRef, text: str) -> None:
        """Post a free-standing note event."""
        await self._post({"event": "note", "note": text, "decision": None}, "note")

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()
