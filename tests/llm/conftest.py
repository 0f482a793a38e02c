"""A fake OpenAI-compatible server on loopback, and a port nothing listens on."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic_ai import models

from observe.otlpkit import spans  # noqa: F401 (a fixture: the process's provider, in memory)

models.ALLOW_MODEL_REQUESTS = False  # no test reaches a real provider


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answer /v1/chat/completions with a fixed reply and token usage."""

    requests: list[dict[str, Any]] = []
    tool_args: dict[str, Any] = {}

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.requests.append({"path": self.path, "body": body})
        message: dict[str, Any] = {"role": "assistant", "content": "ok"}
        if (body.get("response_format") or {}).get("type") == "json_object":
            message["content"] = json.dumps(FakeOpenAI.tool_args)  # a prompted answer
        if body.get("tools"):  # a structured answer: call the output tool with `tool_args`
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call-1", "type": "function", "function": {
                    "name": body["tools"][0]["function"]["name"],
                    "arguments": json.dumps(FakeOpenAI.tool_args)}}]}
        reply = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                 "model": "fake-model-1", "choices": [{
                     "index": 0, "message": message,
                     "finish_reason": "tool_calls" if body.get("tools") else "stop"}],
                 "usage": {"prompt_tokens": 11, "completion_tokens": 1, "total_tokens": 12}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def fake_openai() -> Iterator[str]:
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let pydantic-ai send requests: the test reaches only the loopback fake or a closed port."""
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)
