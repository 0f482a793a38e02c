"""Fixtures of the sandbox tests: a warmed-up sandbox and a client for its API handler."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest

from warroom.agents.models import Action
from warroom.domain.call_state import state_requests
from warroom.domain.calls import render_calls
from warroom.domain.models import ApiCall
from warroom.sandbox.api import handle
from warroom.sandbox.sim import Sandbox


@dataclass
class Client:
    """Sends calls through the sandbox's API handler, the core of its HTTP server."""

    sandbox: Sandbox

    def send(self, call: ApiCall, *, dry_run: bool = False) -> tuple[int, Any]:
        path, _, raw = call.path.partition("?")
        query = dict(parse_qsl(raw))
        if dry_run:
            query["dryRun"] = "All"
        body = json.dumps(call.body).encode() if call.body is not None else None
        return handle(self.sandbox, call.method, path, query, body, call.content_type)

    def get(self, path: str) -> Any:
        code, data = self.send(ApiCall(method="GET", path=path))
        assert code == 200, data
        return data

    def state(self, action: Action) -> dict[str, Any]:
        """Read what the action touches, as the executor's capture_state does."""
        objects: list[dict[str, Any]] = []
        for call in state_requests(action):
            data = self.get(call.path)
            objects.extend(data["items"] if "items" in data else [data])
        return {"objects": objects}

    def act(self, action: Action) -> list[tuple[int, Any]]:
        """Carry out a catalogue action; return each call's status and answer."""
        calls = render_calls(action, state=self.state(action), now=self.sandbox.now)
        return [self.send(call) for call in calls]


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(seed=11)


@pytest.fixture
def client(sandbox: Sandbox) -> Client:
    return Client(sandbox)
