"""A local fake of Slack's Web API, Telegram's Bot API and a webhook receiver, on loopback.

The official clients (slack-sdk, python-telegram-bot) are pointed at it by base URL; it records
every call warroom makes and answers as the real APIs do. `fail` makes the next calls to a
platform answer HTTP 500, to test retries.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import uvicorn
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SLACK_TOKEN = "xoxb-test-token"
SLACK_SECRET = "slack-signing-secret-for-tests"
TELEGRAM_TOKEN = "123456:TEST-TOKEN"
TELEGRAM_SECRET = "telegram-webhook-secret"
WEBHOOK_SECRET = "webhook-secret-0123456789"


@dataclass
class Call:
    platform: str
    method: str
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def _decode(value: str) -> Any:
    """Telegram's client sends nested objects as JSON strings inside the form."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakePlatforms:
    """Records calls; answers like Slack, Telegram and a webhook receiver."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failures: dict[str, int] = {}
        self.port = 0
        self._ts = 0
        self._message_id = 100

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, platform: str, times: int) -> None:
        """Answer the next `times` calls to `platform` with HTTP 500."""
        self.failures[platform] = times

    def of(self, platform: str, method: str | None = None) -> list[Call]:
        return [c for c in self.calls
                if c.platform == platform and (method is None or c.method == method)]

    async def _params(self, request: Request) -> tuple[dict[str, Any], bytes]:
        body = await request.body()
        if request.headers.get("content-type", "").startswith("application/json"):
            return dict(json.loads(body or b"{}")), body
        return {k: _decode(v[0]) for k, v in parse_qs(body.decode()).items()}, body

    def _failing(self, platform: str) -> bool:
        left = self.failures.get(platform, 0)
        if left:
            self.failures[platform] = left - 1
        return bool(left)

    async def slack(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        params, body = await self._params(request)
        if self._failing("slack"):
            return JSONResponse({"ok": False, "error": "internal_error"}, status_code=500)
        if request.headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        self.calls.append(Call("slack", method, params, dict(request.headers), body))
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
            return JSONResponse({"ok": True, "channel": params["channel"], "ts": ts,
                                 "message": {"text": params.get("text", "")}})
        if method == "chat.update":
            return JSONResponse({"ok": True, "channel": params["channel"], "ts": params["ts"]})
        return JSONResponse({"ok": False, "error": "unknown_method"}, status_code=404)

    async def telegram(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != TELEGRAM_TOKEN:
            return JSONResponse({"ok": False, "error_code": 401,
                                 "description": "Unauthorized"}, status_code=401)
        method = request.path_params["method"]
        params, body = await self._params(request)
        if self._failing("telegram"):
            return JSONResponse({"ok": False, "error_code": 500,
                                 "description": "Internal Server Error"}, status_code=500)
        self.calls.append(Call("telegram", method, params, dict(request.headers), body))
        if method == "getMe":
            return JSONResponse({"ok": True, "result": {
                "id": 1, "is_bot": True, "first_name": "warroom", "username": "warroom_bot"}})
        if method in ("sendMessage", "editMessageText"):
            if method == "sendMessage":
                self._message_id += 1
            message_id = int(params.get("message_id", self._message_id))
            return JSONResponse({"ok": True, "result": {
                "message_id": message_id, "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "group", "title": "ops"},
                "text": params.get("text", "")}})
        if method == "answerCallbackQuery":
            return JSONResponse({"ok": True, "result": True})
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"},
                            status_code=404)

    async def hook(self, request: Request) -> JSONResponse:
        body = await request.body()
        if self._failing("webhook"):
            return JSONResponse({"error": "down"}, status_code=500)
        self.calls.append(Call("webhook", "post", json.loads(body), dict(request.headers),
                               body))
        return JSONResponse({"accepted": True})

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/slack/api/{method}", self.slack, methods=["POST"]),
            Route("/telegram/bot{token}/{method}", self.telegram, methods=["POST", "GET"]),
            Route("/hook", self.hook, methods=["POST"]),
        ])


@asynccontextmanager
async def running_platforms() -> AsyncIterator[FakePlatforms]:
    """Serve the fake on a free loopback port for the duration of the block."""
    fake = FakePlatforms()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    fake.port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(fake.app(), log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=5))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        yield fake
    finally:
        server.should_exit = True
        await task


# signed callbacks, as the platforms send them


def slack_click(user: str, token: str, *, verdict: str = "approve", channel: str = "C_OPS",
                ts: str = "1700000000.000001", secret: str = SLACK_SECRET,
                at: int | None = None) -> tuple[bytes, dict[str, str]]:
    """Return the body and headers Slack sends when `user` clicks a card's button."""
    payload = {
        "type": "block_actions", "user": {"id": user, "username": user.lower()},
        "trigger_id": f"{time.monotonic_ns()}.trigger",  # unique per click, as Slack's is
        "channel": {"id": channel}, "message": {"ts": ts},
        "actions": [{"action_id": f"warroom_{verdict}", "value": token,
                     "block_id": f"decision:{token}", "type": "button",
                     "action_ts": f"{time.time():.6f}"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    stamp = str(at if at is not None else int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return body, {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
                  "Content-Type": "application/x-www-form-urlencoded"}


_UPDATE = iter(range(1000, 10**6))


def telegram_click(user: int, token: str, *, chat: int, message_id: int,
                   verdict: str = "approve", update_id: int | None = None
                   ) -> dict[str, Any]:
    """Return the update Telegram posts when `user` presses a card's button."""
    return {
        "update_id": update_id if update_id is not None else next(_UPDATE),
        "callback_query": {
            "id": f"q{user}-{time.monotonic_ns()}", "chat_instance": "1",
            "from": {"id": user, "is_bot": False, "first_name": "u"},
            "message": {"message_id": message_id, "date": int(time.time()),
                        "chat": {"id": chat, "type": "group"}},
            "data": f"{verdict}:{token}",
        },
    }
