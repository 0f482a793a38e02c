"""Run a sandbox live: its HTTP server on a loopback port, an accelerated clock, a kubeconfig
pointing at it, and Alertmanager webhooks posted to warroom."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn

from warroom.config import Settings
from warroom.sandbox.server import create_app
from warroom.sandbox.sim import Sandbox

log = structlog.get_logger(__name__)
KUBECONFIG_NAME = "sandbox-kubeconfig.yaml"
HISTORY_S = 3600.0


def kubeconfig(url: str) -> dict[str, Any]:
    """Return a kubeconfig whose current context is the sandbox at the URL."""
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "warroom-sandbox", "cluster": {"server": url}}],
        "users": [{"name": "warroom-sandbox", "user": {"token": "sandbox"}}],
        "contexts": [{"name": "warroom-sandbox", "context": {
            "cluster": "warroom-sandbox", "user": "warroom-sandbox", "namespace": "shop"}}],
        "current-context": "warroom-sandbox",
    }


class WallClock:
    """Map the accelerated simulated time to wall time, tick by tick.

    Each live tick pairs its simulated instant with the wall instant it ran at, so series
    served over HTTP carry wall-clock timestamps and a query for "the last minute" sees the
    last minute of ticks. The history simulated before the clock started (the warm-up) maps
    one to one, as backfilled data would; later instants between or after the recorded ticks
    are interpolated at the nominal speed.
    """

    def __init__(self, sim_start: float, wall_start: float, speed: float,
                 keep: int = 20_000) -> None:
        self.speed = speed
        self.keep = keep
        self._pairs: dict[float, float] = {sim_start: wall_start}
        self._first = self._last = (sim_start, wall_start)

    def tick(self, sim: float, wall: float) -> None:
        """Record that the simulated instant `sim` happened at wall time `wall`."""
        self._pairs[sim] = wall
        self._last = (sim, wall)
        if len(self._pairs) > self.keep:
            oldest = next(iter(self._pairs))
            del self._pairs[oldest]
            self._first = (next(iter(self._pairs)), self._pairs[next(iter(self._pairs))])

    def to_wall(self, sim: float) -> float:
        """Return the wall time of a simulated instant."""
        exact = self._pairs.get(sim)
        if exact is not None:
            return exact
        if sim < self._first[0]:
            return self._first[1] - (self._first[0] - sim)
        return self._last[1] + (sim - self._last[0]) / self.speed

    def stamp(self, text: str) -> str:
        """Map an RFC 3339 simulated timestamp to wall time (the zero time stays)."""
        if text.startswith("0001-"):
            return text
        when = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        return datetime.fromtimestamp(self.to_wall(when), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SandboxRuntime:
    """A sandbox cluster served over HTTP and ticking in the background.

    `start()` warms the shop up, binds 127.0.0.1 (`settings.sandbox_port`, 0 for any free
    port), writes `settings.home / "sandbox-kubeconfig.yaml"` and starts the clock: one tick of
    `settings.sandbox_tick_seconds` simulated seconds every
    `settings.sandbox_tick_interval_seconds` wall seconds. After each tick, new Alertmanager
    webhooks go to `webhook_url` (default `settings.sandbox_webhook_url`, else warroom's own
    `/api/v1/alerts/alertmanager`).
    """

    def __init__(self, settings: Settings, *, webhook_url: str | None = None,
                 sandbox: Sandbox | None = None, clock: bool = True) -> None:
        self.settings = settings
        self.webhook_url = webhook_url if webhook_url is not None else (
            settings.sandbox_webhook_url
            or f"http://{settings.host}:{settings.port}/api/v1/alerts/alertmanager")
        # an hour of history, simulated up to the present, so queries have a baseline
        self.sandbox = sandbox or Sandbox(
            seed=settings.sandbox_seed, start=datetime.now(UTC) - timedelta(seconds=HISTORY_S),
            tick_seconds=settings.sandbox_tick_seconds, warmup_seconds=HISTORY_S)
        self.clock = clock
        self.port = 0
        self.delivered: list[dict[str, Any]] = []
        self.failed_deliveries = 0
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        # sent with every webhook: warroom's ingest endpoint wants a token (docs/access.md)
        self.webhook_headers: dict[str, str] = {}
        self._socket: socket.socket | None = None
        self.wall: WallClock | None = None

    @property
    def url(self) -> str:
        """Return the base URL of the sandbox's API server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def kubeconfig_path(self) -> Path:
        """Return where the kubeconfig for the sandbox is written."""
        return self.settings.home / KUBECONFIG_NAME

    def reserve(self) -> int:
        """Bind the loopback port now (before start) and write the kubeconfig; return the port.

        Lets a caller point settings at the sandbox before anything else starts.
        """
        if self._socket is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", self.settings.sandbox_port))
            self._socket = sock
            self.port = sock.getsockname()[1]
            self.settings.home.mkdir(parents=True, exist_ok=True)
            self.kubeconfig_path.write_text(json.dumps(kubeconfig(self.url), indent=2) + "\n")
        return self.port

    async def start(self) -> None:
        """Serve the sandbox, write its kubeconfig and start the clock."""
        self.reserve()
        sock, self._socket = self._socket, None
        assert sock is not None
        if self.clock:
            speed = self.sandbox.tick_seconds / self.settings.sandbox_tick_interval_seconds
            self.wall = WallClock(self.sandbox.now.timestamp(), time.time(), speed)
            self.sandbox.series.to_external = self.wall.to_wall
        app = create_app(self.sandbox, stamp=self.wall.stamp if self.wall else None)
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()
                raise RuntimeError(f"the sandbox server on {self.url} stopped at start-up")
            await asyncio.sleep(0.01)
        self._http = httpx.AsyncClient(timeout=5.0)
        if self.clock:
            self._tick_task = asyncio.create_task(self._run_clock())

    async def stop(self) -> None:
        """Stop the clock and the server."""
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
            self._tick_task = None
        if self._server is not None:
            self._server.should_exit = True
        if self._serve_task is not None:
            await self._serve_task
            self._serve_task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> SandboxRuntime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run_clock(self) -> None:
        interval = self.settings.sandbox_tick_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                self.sandbox.tick()
                if self.wall is not None:
                    self.wall.tick(self.sandbox.now.timestamp(), time.time())
                await self.deliver()
            except Exception:  # the clock must survive one bad tick
                log.exception("sandbox.tick_failed")

    async def advance(self, seconds: float) -> int:
        """Advance the simulated clock and deliver the webhooks it produced; return how many."""
        self.sandbox.advance(seconds)
        return await self.deliver()

    async def deliver(self) -> int:
        """POST pending Alertmanager webhooks; keep failed ones for the next tick."""
        if not self.webhook_url or self._http is None:
            return 0
        sent = 0
        pending, self.sandbox.outbox = self.sandbox.outbox, []
        for index, payload in enumerate(pending):
            try:
                response = await self._http.post(self.webhook_url, json=self._external(payload),
                                                 headers=self.webhook_headers)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                self.failed_deliveries += 1
                log.warning("sandbox.webhook_failed", url=self.webhook_url, error=str(exc))
                self.sandbox.outbox = (pending[index:] + self.sandbox.outbox)[-100:]
                break
            self.delivered.append(payload)
            sent += 1
        return sent

    def _external(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Give a webhook wall-clock times when the clock is live."""
        if self.wall is None:
            return payload
        wall = self.wall
        alerts = [{**a, "startsAt": wall.stamp(a["startsAt"]), "endsAt": wall.stamp(a["endsAt"])}
                  for a in payload["alerts"]]
        return {**payload, "alerts": alerts}

    def inject(self, fault: str, *, service: str | None = None, namespace: str | None = None,
               severity: float = 0.8, onset_seconds: float = 0.0) -> dict[str, Any]:
        """Inject a fault into the running sandbox and return it (target included)."""
        return self._wall_times(self.sandbox.inject(
            fault, service=service, namespace=namespace, severity=severity,
            onset_seconds=onset_seconds).as_dict())

    def faults(self) -> list[dict[str, Any]]:
        """Return the faults in force."""
        return [self._wall_times(f) for f in self.sandbox.fault_list()]

    def _wall_times(self, fault: dict[str, Any]) -> dict[str, Any]:
        if self.wall is None:
            return fault
        started = datetime.fromisoformat(fault["started"]).timestamp()
        return {**fault, "started": datetime.fromtimestamp(
            self.wall.to_wall(started), UTC).isoformat(timespec="seconds")}


@contextlib.asynccontextmanager
async def sandbox_lifespan(settings: Settings, **kwargs: Any) -> AsyncIterator[SandboxRuntime]:
    """Run a sandbox for the duration of a block (how `serve --sandbox` hosts one)."""
    runtime = SandboxRuntime(settings, **kwargs)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()
