"""A warroom fleet of real processes on PostgreSQL, for `bench scale` and `bench chaos`.

N API processes (`serve --no-worker`), M workers (`warroom worker`), all reaching PostgreSQL
through a TCP proxy this process controls (so the database can be made unavailable without
stopping a server others use), optionally the sandbox cluster. Loopback only; every process
is stopped by `close`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from warroom.bench.processes import free_port, mint_token, start_warroom, stop

WARROOM = [sys.executable, "-c", "from warroom.cli import app; app()"]


class Proxy:
    """A loopback TCP proxy in front of PostgreSQL that can drop every connection on demand."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self.up = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="pg-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for w in list(self._writers):
                w.transport.abort()
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def outage(self, seconds: float) -> None:
        """Refuse and drop every connection for `seconds` (blocking)."""
        self.cut()
        time.sleep(seconds)
        self.up = True

    def cut(self) -> None:
        """Drop every connection and refuse new ones until `up` is set again."""
        self.up = False

        async def drop() -> None:
            for w in list(self._writers):
                w.transport.abort()

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(5)

    def close(self) -> None:
        """Stop the proxy's loop."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


class Fleet:
    """API processes and workers of one run, sharing one PostgreSQL database."""

    def __init__(self, database_url: str, work: Path, *, env: dict[str, str] | None = None,
                 proxy: bool = False) -> None:
        self.work = work
        url = make_url(database_url)
        self.proxy = Proxy(url.host or "127.0.0.1", url.port or 5432) if proxy else None
        if self.proxy is not None:
            url = url.set(host="127.0.0.1", port=self.proxy.port)
        self.direct_url = database_url
        self.database_url = url.render_as_string(hide_password=False)
        self.env = {
            "WARROOM_HOME": str(work / "home"), "WARROOM_DATABASE_URL": self.database_url,
            "WARROOM_WORKFLOW_POLL_SECONDS": "0.05", "WARROOM_VERIFY_WARMUP_SECONDS": "0.5",
            "WARROOM_WORKER_HEARTBEAT_SECONDS": "1", "WARROOM_WORKER_TAKEOVER_SECONDS": "5",
            "WARROOM_LOG_LEVEL": "WARNING",
            # the shared test server allows 100 connections for everyone
            "WARROOM_DBOS_POOL_SIZE": "4", **(env or {}),
        }
        self._token = ""
        self.apis: list[tuple[subprocess.Popen[bytes], str]] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._seq = 0

    def mint_token(self) -> str:
        """Create the bench's admin API token in the fleet's database (migrating it first).

        Call it before any process starts and outside an event loop.
        """
        self._token = mint_token(self.direct_url, name="bench-fleet")
        return self._token

    @property
    def token(self) -> str:
        """Return the bench's admin API token (see `mint_token`)."""
        if not self._token:
            raise RuntimeError("Fleet.mint_token() was not called before the run")
        return self._token

    @property
    def headers(self) -> dict[str, str]:
        """Return the bench's credentials as request headers."""
        return {"Authorization": f"Bearer {self.token}"}

    def start_api(self) -> str:
        """Start one API process without a worker and return its base URL."""
        port = free_port()
        log = self.work / f"api-{len(self.apis)}.log"
        proc = start_warroom(port, self.env, log, ("--no-worker",))
        base = f"http://127.0.0.1:{port}"
        self.apis.append((proc, base))
        return base

    def start_worker(self, wait: bool = True) -> str:
        """Start one worker process (a new pod name each time) and return its name."""
        self._seq += 1
        name = f"worker-{self._seq}"
        log = self.work / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*WARROOM, "worker"], env={**os.environ, **self.env, "WARROOM_POD_NAME": name},
                stdout=out, stderr=subprocess.STDOUT, cwd=self.work, start_new_session=True,
            )
        self.workers[name] = proc
        deadline = time.monotonic() + 90
        while wait and b"warroom worker ready" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.05)
        return name

    def kill_random_worker(self, rng: random.Random) -> str:
        """SIGKILL one live worker at random; return its name."""
        alive = [n for n, p in self.workers.items() if p.poll() is None]
        name = rng.choice(alive)
        os.killpg(self.workers[name].pid, signal.SIGKILL)
        self.workers[name].wait(10)
        return name

    @property
    def bases(self) -> list[str]:
        """Return the API processes' base URLs."""
        return [base for _, base in self.apis]

    def close(self) -> None:
        """Stop every process this fleet started, then the proxy."""
        for proc in self.workers.values():
            stop(proc)
        for proc, _ in self.apis:
            stop(proc)
        if self.proxy is not None:
            self.proxy.close()


def storm_webhook(index: int, run: str, *, service: str | None = None) -> dict[str, Any]:
    """Return one Alertmanager webhook opening incident `index` of the run."""
    labels = {"alertname": "HighErrorRatio", "namespace": f"bench-{index % 7}",
              "service": service or f"svc-{run}-{index}", "severity": "critical"}
    return {
        "version": "4", "status": "firing", "receiver": "warroom", "groupKey": f"{run}-{index}",
        "groupLabels": {"service": labels["service"]}, "commonLabels": labels,
        "commonAnnotations": {}, "externalURL": "http://alertmanager",
        "alerts": [{"status": "firing", "labels": labels,
                    "annotations": {"summary": "error ratio above 5%"},
                    "startsAt": "2026-12-04T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "", "fingerprint": uuid.uuid4().hex[:16]}],
    }


async def post_until_acked(client: httpx.AsyncClient, base: str, body: dict[str, Any],
                           *, attempts: int = 60) -> tuple[bool, str | None, int]:
    """Post like Alertmanager: retry on errors and 5xx; return (acked, incident id, retries)."""
    for attempt in range(attempts):
        try:
            response = await client.post(f"{base}/api/v1/alerts/alertmanager", json=body)
            if response.status_code == 202:
                return True, str(response.json()["incidents"][0]["id"]), attempt
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
    return False, None, attempts
