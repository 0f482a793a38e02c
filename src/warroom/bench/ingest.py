"""`warroom bench ingest`: an alert storm against warroom and against a real Alertmanager.

The server runs in its own process on the embedded default (a fresh SQLite file) or on the
PostgreSQL given; this process is the load generator. For a fixed time, `concurrency` clients
post webhook batches of `batch` alerts over loopback: mostly re-sent firing alerts, some new
ones, some resolutions, as during a storm. Then the stored counts are checked against what was
acknowledged. The same stream, from the same seed, then goes to Alertmanager's /api/v2/alerts.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from warroom.bench import processes
from warroom.bench.repository import resolved_signals, workload
from warroom.ingest.normalize import fingerprint
from warroom.store.db import create_database, drop_database, make_engine, make_sessionmaker

WEBHOOK_PATH = "/api/v1/alerts/alertmanager"


@dataclass
class Alert:
    labels: dict[str, str]
    fingerprint: str
    starts_at: str


@dataclass
class Storm:
    """A seeded alert storm; only acknowledged alerts are re-sent or resolved."""

    seed: int
    new_share: float = 0.10
    resolve_share: float = 0.05
    services: int = 41  # distinct `service` labels the new alerts cycle through
    rng: random.Random = field(init=False)
    active: list[Alert] = field(default_factory=list)  # acknowledged and firing
    inflight: Counter[str] = field(default_factory=Counter)
    issued: int = 0
    # what the server acknowledged: per fingerprint, times received and final status
    acked: Counter[str] = field(default_factory=Counter)
    resolved: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _new(self) -> Alert:
        n = self.issued
        self.issued += 1
        labels = {
            "alertname": f"Bench{n % 17}",
            "namespace": f"ns{n % 7}",
            "service": f"svc{n % self.services}",
            "instance": f"10.0.{n // 250 % 250}.{n % 250}:9100",
            "severity": ("critical", "warning", "info")[n % 3],
        }
        return Alert(labels, fingerprint(labels), datetime.now(UTC).isoformat())

    def batch(self, size: int) -> list[tuple[str, Alert]]:
        """Draw the next batch: (status, alert) pairs."""
        out: list[tuple[str, Alert]] = []
        for _ in range(size):
            roll = self.rng.random()
            if len(self.active) < 100 or roll < self.new_share:
                alert = self._new()
                out.append(("firing", alert))
            elif roll < self.new_share + self.resolve_share:
                index = self.rng.randrange(len(self.active))
                alert = self.active[index]
                if self.inflight[alert.fingerprint]:  # never overtake an in-flight firing
                    out.append(("firing", alert))
                else:
                    self.active[index] = self.active[-1]
                    self.active.pop()
                    out.append(("resolved", alert))
            else:
                out.append(("firing", self.active[self.rng.randrange(len(self.active))]))
            self.inflight[out[-1][1].fingerprint] += 1
        return out

    def settle(self, batch: list[tuple[str, Alert]], ok: bool) -> None:
        """Record the server's answer to a batch."""
        seen_new: set[str] = set()
        for status, alert in batch:
            fp = alert.fingerprint
            self.inflight[fp] -= 1
            if not ok:
                continue
            if fp not in self.acked and fp not in seen_new and status == "firing":
                seen_new.add(fp)
                self.active.append(alert)
            self.acked[fp] += 1
            if status == "resolved":
                self.resolved.add(fp)


def warroom_body(batch: list[tuple[str, Alert]]) -> bytes:
    """Render a batch as the webhook Alertmanager would post."""
    now = datetime.now(UTC).isoformat()
    alerts = [
        {
            "status": status,
            "labels": a.labels,
            "annotations": {"summary": f"{a.labels['alertname']} on {a.labels['service']}"},
            "startsAt": a.starts_at,
            "endsAt": now if status == "resolved" else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.bench:9090/graph",
            "fingerprint": a.fingerprint,
        }
        for status, a in batch
    ]
    firing = any(s == "firing" for s, _ in batch)
    return orjson.dumps(
        {
            "version": "4",
            "status": "firing" if firing else "resolved",
            "receiver": "warroom",
            "groupKey": "{}:{}",
            "alerts": alerts,
        }
    )


def alertmanager_body(batch: list[tuple[str, Alert]]) -> bytes:
    """Render a batch as Prometheus posts it to Alertmanager's /api/v2/alerts."""
    now = datetime.now(UTC).isoformat()
    return orjson.dumps(
        [
            {
                "labels": a.labels,
                "annotations": {"summary": f"{a.labels['alertname']} on {a.labels['service']}"},
                "startsAt": a.starts_at,
                **({"endsAt": now} if status == "resolved" else {}),
                "generatorURL": "http://prometheus.bench:9090/graph",
            }
            for status, a in batch
        ]
    )


@dataclass
class LoadResult:
    alerts: int
    requests: int
    errors: Counter[str]
    seconds: float
    latencies_ms: list[float]
    storm: Storm

    def rate(self) -> float:
        """Return acknowledged alerts per second."""
        return self.alerts / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Return the q-quantile of acknowledgement latency in milliseconds."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_load(
    url: str,
    render: Callable[[list[tuple[str, Alert]]], bytes],
    *,
    seconds: float,
    concurrency: int,
    batch: int,
    seed: int,
    token: str = "",
    new_share: float = 0.10,
    services: int = 41,
) -> LoadResult:
    """Post batches from `concurrency` clients for `seconds`; count only acknowledged alerts.

    `token` is sent as a bearer token, as Alertmanager's `http_config` would send it.
    """
    storm = Storm(seed, new_share=new_share, services=services)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    alerts = requests = 0
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        start = time.perf_counter()
        deadline = start + seconds

        async def worker() -> None:
            nonlocal alerts, requests
            while time.perf_counter() < deadline:
                drawn = storm.batch(batch)
                body = render(drawn)
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    ok = response.status_code in (200, 202)
                    if not ok:
                        errors[f"HTTP {response.status_code}"] += 1
                except httpx.HTTPError as exc:
                    ok = False
                    errors[type(exc).__name__] += 1
                latencies.append((time.perf_counter() - sent) * 1000)
                requests += 1
                storm.settle(drawn, ok)
                if ok:
                    alerts += len(drawn)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return LoadResult(alerts, requests, errors, elapsed, latencies, storm)


async def stored_counts(database_url: str) -> tuple[tuple[int, int, int], tuple[int, int]]:
    """Return signals stored, the sum of their receive counts, and how many are resolved;
    then the incidents and decisions (workflow rounds) stored."""
    # lazy: cold import cost (python -X importtime): warroom.ingest.repository ~72 ms (pulls
    # sqlalchemy); kept off the module's import path
    from warroom.ingest import repository

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            count, received = await repository.count_signals(session)
            resolved = await resolved_signals(session)
            return (count, received, resolved), await workload(session)
    finally:
        await engine.dispose()


def _line(name: str, result: LoadResult, rss: int) -> str:
    failed = ", ".join(f"{k} x{v}" for k, v in result.errors.items()) or "none"
    return (
        f"{name:<12} {result.alerts:>9,} alerts in {result.seconds:5.1f} s = "
        f"{result.rate():>8,.0f} alerts/s | ack p50 {result.percentile(0.50):6.1f} ms, "
        f"p99 {result.percentile(0.99):6.1f} ms | peak RSS {rss / 2**20:6.1f} MiB | "
        f"failed requests: {failed}"
    )


def _cpu_line(cpu_seconds: float, alerts: int) -> str:
    """The server's CPU per 1,000 acknowledged alerts, a figure a shared machine disturbs less."""
    per = cpu_seconds * 1e6 / alerts if alerts else float("nan")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"server CPU:  {cpu_seconds:.1f} s = {per:,.0f} ms per 1,000 acknowledged alerts | "
        f"load average {load}"
    )


def _diff(what: str, stored: int, expected: int) -> str:
    return f"{what} {stored:,} (expected {expected:,}, difference {stored - expected:+,})"


def run(
    *,
    seconds: float,
    concurrency: int,
    batch: int,
    database_url: str,
    alertmanager: bool,
    seed: int,
    worker: bool,
    echo: Callable[[str], None],
    new_share: float = 0.10,
    services: int = 41,
) -> bool:
    """Run the whole benchmark and print its figures; return whether no alert was lost."""
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        work = Path(tmp)
        target, cleanup = _database(database_url, work)
        port = processes.free_port()
        env = {"WARROOM_HOME": str(work / "home"), "WARROOM_DATABASE_URL": target}
        args = () if worker else ("--no-worker",)
        where = "PostgreSQL" if target.startswith("postgresql") else "SQLite (embedded default)"
        echo(
            f"warroom bench ingest: {seconds:.0f} s, {concurrency} clients, batches of {batch}, "
            f"{where}, server in its own process on 127.0.0.1:{port}"
            f"{', embedded worker' if worker else ''}; {new_share:.0%} new alerts over "
            f"{services} services"
        )
        token = processes.mint_token(target, name="alertmanager", role="viewer")
        server = processes.start_warroom(port, env, work / "warroom.log", args)
        try:
            cpu_before = processes.cpu_seconds(server.pid)
            result = asyncio.run(
                run_load(
                    f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
                    warroom_body,
                    seconds=seconds,
                    concurrency=concurrency,
                    batch=batch,
                    seed=seed,
                    token=token,
                    new_share=new_share,
                    services=services,
                )
            )
            rss = processes.peak_rss_bytes(server.pid)
            cpu = processes.cpu_seconds(server.pid) - cpu_before
        finally:
            processes.stop(server)
        echo(_line("warroom", result, rss))
        echo(_cpu_line(cpu, result.alerts))
        try:
            stored, (incidents, decisions) = asyncio.run(stored_counts(target))
        finally:
            cleanup()
        storm = result.storm
        expected = (len(storm.acked), sum(storm.acked.values()), len(storm.resolved))
        echo(
            "stored:      "
            + "; ".join(
                _diff(what, s, e)
                for what, s, e in zip(
                    ("signals", "alerts received", "resolved"), stored, expected, strict=True
                )
            )
        )
        echo(f"workload:    {incidents:,} incidents, {decisions:,} decisions (workflow rounds)")
        if alertmanager:
            _compare_alertmanager(result, work, seconds, concurrency, batch, seed, echo,
                                  new_share=new_share, services=services)
        return stored == expected and not result.errors


def _compare_alertmanager(
    ours: LoadResult,
    work: Path,
    seconds: float,
    concurrency: int,
    batch: int,
    seed: int,
    echo: Callable[[str], None],
    *,
    new_share: float,
    services: int,
) -> None:
    problem = processes.ensure_alertmanager()
    if problem:
        echo(f"alertmanager: skipped ({problem})")
        return
    port = processes.free_port()
    am = processes.start_alertmanager(port, work)
    try:
        theirs = asyncio.run(
            run_load(
                f"http://127.0.0.1:{port}/api/v2/alerts",
                alertmanager_body,
                seconds=seconds,
                concurrency=concurrency,
                batch=batch,
                seed=seed,
                new_share=new_share,
                services=services,
            )
        )
        rss = processes.peak_rss_bytes(am.pid)
    finally:
        processes.stop(am)
    echo(_line("alertmanager", theirs, rss))
    if theirs.rate():
        echo(
            f"ratio:       warroom / alertmanager = {ours.rate() / theirs.rate():.2f} "
            "(warroom commits every batch to disk; Alertmanager keeps alerts in memory)"
        )


def _database(url: str, work: Path) -> tuple[str, Callable[[], None]]:
    """Return a fresh database URL for the run and how to drop it afterwards."""
    if not url:
        return f"sqlite+aiosqlite:///{work / 'home' / 'warroom.sqlite'}", lambda: None
    if not url.startswith("postgresql"):
        return url, lambda: None

    name = f"warroom_bench_{uuid.uuid4().hex[:8]}"
    target = asyncio.run(create_database(url, name))
    return target, lambda: asyncio.run(drop_database(url, name))
