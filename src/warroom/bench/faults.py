"""Fault-injecting servers for `bench chaos`: a Kubernetes API that misbehaves, a dead model.

`KubeFaultProxy` sits between warroom and a Kubernetes API (the sandbox's) on loopback and,
for a share of the calls, answers 500 or 409, times out or drops the connection instead of
answering — some faults before the call reaches the API server, some after it was applied
(the dangerous case: the change happened but the caller never hears of it). It counts what it
injected, and every write the API server really received, so a write applied twice is seen
from outside warroom. `SilentServer` accepts connections and never answers: a hanging model
provider.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from aiohttp import web

from warroom.bench.processes import free_port

Fault = Literal["500-before", "500-after", "409", "timeout-after", "drop-before", "drop-after"]
FAULTS: tuple[Fault, ...] = ("500-before", "500-after", "409", "timeout-after", "drop-before",
                             "drop-after")
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


def call_class(method: str, query: str) -> str:
    """Return "read", "dry-run" or "write": how the proxy counts and targets a call."""
    if method in ("GET", "HEAD"):
        return "read"
    return "dry-run" if "dryRun=All" in query else "write"


@dataclass
class FaultLog:
    """What the proxy did: faults injected by (fault, call class), writes the server got."""

    injected: Counter[str] = field(default_factory=Counter)
    writes: Counter[str] = field(default_factory=Counter)  # "METHOD path body" -> times applied
    calls: int = 0

    @property
    def double_applies(self) -> int:
        """Count identical writes the API server received more than once."""
        return sum(1 for n in self.writes.values() if n > 1)


class KubeFaultProxy:
    """A loopback HTTP proxy in front of a Kubernetes API that injects faults at random.

    `rates` gives, per call class, the share of calls that get a fault; the fault is drawn
    from `faults` in turn per class, so every kind is injected once there are enough calls.
    `hang` is how long a timed-out call is held (longer than the client's timeout); `limit`
    caps the faults per call class (None: no cap).
    """

    def __init__(self, upstream: str, *, rates: dict[str, float], seed: int = 7,
                 faults: tuple[Fault, ...] = FAULTS, hang: float = 30.0,
                 limit: int | None = None, active: bool = True) -> None:
        self.upstream = upstream.rstrip("/")
        self.rates = rates
        self.faults = faults
        self.hang = hang
        self.limit = limit
        self.log = FaultLog()
        self.active = active
        self.port = free_port()
        self._rng = random.Random(seed)
        self._turn: Counter[str] = Counter()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="kube-faults", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Kubernetes fault proxy did not start")

    @property
    def url(self) -> str:
        """Return the proxy's base URL (a kubeconfig's `server`)."""
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self._session = self._loop.run_until_complete(_client_session())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._session.close())
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    def _pick(self, kind: str) -> Fault | None:
        if not self.active or self._rng.random() >= self.rates.get(kind, 0.0):
            return None
        if self.limit is not None and self._turn[kind] >= self.limit:
            return None
        # a read is never answered 409 by a real API server
        kinds = [f for f in self.faults if kind != "read" or f != "409"] or list(self.faults)
        fault = kinds[self._turn[kind] % len(kinds)]
        self._turn[kind] += 1
        return fault

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        kind = call_class(request.method, request.query_string)
        self.log.calls += 1
        fault = self._pick(kind)
        if fault is not None:
            self.log.injected[f"{fault} {kind}"] += 1
        if fault == "500-before":
            return _status(500, "InternalError", "injected by bench chaos before the call")
        if fault == "409":
            return _status(409, "Conflict", "injected by bench chaos: the object was modified")
        if fault == "drop-before":
            return await _drop(request)
        status, headers, answer = await self._forward(request, body, kind)
        if fault == "500-after":
            return _status(500, "InternalError", "injected by bench chaos after the call")
        if fault == "timeout-after":
            await asyncio.sleep(self.hang)
        if fault == "drop-after":
            return await _drop(request)
        return web.Response(status=status, headers=headers, body=answer)

    async def _forward(self, request: web.Request, body: bytes,
                       kind: str) -> tuple[int, dict[str, str], bytes]:
        if kind == "write":
            self.log.writes[f"{request.method} {request.path_qs} {body.decode(errors='replace')}"] \
                += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with self._session.request(request.method, self.upstream + request.path_qs,
                                         headers=headers, data=body or None) as upstream:
            answer = await upstream.read()
            kept = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_HEADERS}
            return upstream.status, kept, answer

    def close(self) -> None:
        """Stop the proxy."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def _client_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(auto_decompress=False)


def _status(code: int, reason: str, message: str) -> web.Response:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "reason": reason, "message": message, "code": code}, status=code)


async def _drop(request: web.Request) -> web.StreamResponse:
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=500)  # never written: the connection is gone


class SilentServer:
    """A TCP server that accepts every connection and never answers (a hanging provider)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="silent", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the silent server did not start")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        held: list[asyncio.StreamWriter] = []

        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            held.append(writer)

        server = self._loop.run_until_complete(asyncio.start_server(accept, "127.0.0.1",
                                                                    self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for writer in held:
                writer.transport.abort()
            # let the aborted transports close their sockets before the loop goes
            self._loop.run_until_complete(server.wait_closed())
            self._loop.run_until_complete(asyncio.sleep(0.05))
            self._loop.close()

    def close(self) -> None:
        """Stop the server, dropping the connections it held."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
