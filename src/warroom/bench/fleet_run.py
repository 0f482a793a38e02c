"""`warroom bench scale` and `warroom bench chaos`: a fleet of real processes on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from warroom.bench import repository
from warroom.bench.chaos_faults import REDIS_DB, kube_faults, redis_events, run_model_outage
from warroom.bench.fleet import WARROOM, Fleet, Proxy, post_until_acked, storm_webhook
from warroom.bench.ingest import _database
from warroom.bench.processes import free_port, stop
from warroom.store.db import make_engine, make_sessionmaker

Echo = Callable[[str], None]


async def _read(url: str) -> tuple[dict[str, datetime], dict[str, datetime]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await repository.ready_times(session), await repository.closed_times(session)
    finally:
        await engine.dispose()


async def _storm(fleet: Fleet, incidents: int, senders: int) -> dict[str, datetime]:
    """Send one webhook per incident over the API processes; return each incident's send time."""
    run, sent, queue = uuid.uuid4().hex[:6], {}, list(range(incidents))

    async def sender(client: httpx.AsyncClient, n: int) -> None:
        while queue:
            index = queue.pop()
            at = datetime.now(UTC)
            base = fleet.bases[(index + n) % len(fleet.bases)]
            acked, incident, _ = await post_until_acked(client, base, storm_webhook(index, run))
            if acked and incident is not None:
                sent[incident] = at

    async with httpx.AsyncClient(timeout=30, headers=fleet.headers) as client:
        await asyncio.gather(*(sender(client, n) for n in range(senders)))
    return sent


async def _wait_closed(url: str, want: set[str], timeout: float) -> tuple[dict, dict]:
    deadline = time.monotonic() + timeout
    while True:
        ready, closed = await _read(url)
        if want <= closed.keys() or time.monotonic() > deadline:
            return ready, closed
        await asyncio.sleep(1.0)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else 0.0


def run_scale(*, apis: int, workers: tuple[int, ...], incidents: int, postgres_url: str,
              echo: Echo) -> bool:
    """Measure incidents/s to decision ready and to closed, and p95 webhook -> decision."""
    echo(f"bench scale: {apis} API processes, M workers, {incidents} incidents each run, "
         "PostgreSQL, rule backends, no sensors (decisions need no approval: figures are the "
         "workflow engine's and the database's, not the debate's)")
    echo(f"{'M':>3} {'ready/s':>9} {'closed/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'open':>5}")
    ok = True
    for m in workers:
        work = Path(tempfile.mkdtemp(prefix="warroom-scale-"))
        url, drop = _database(postgres_url, work)
        fleet = Fleet(url, work, env={"WARROOM_WORKFLOW_CONCURRENCY": str(8 * m)})
        fleet.mint_token()  # and migrate the database, before any process starts
        try:
            for _ in range(apis):
                fleet.start_api()
            for _ in range(m):
                fleet.start_worker()
            sent = asyncio.run(_storm(fleet, incidents, senders=8))
            ready, closed = asyncio.run(_wait_closed(url, set(sent), timeout=300))
        finally:
            fleet.close()
            drop()
        first = min(sent.values())
        lat = [(ready[i] - sent[i]).total_seconds() * 1000 for i in sent if i in ready]
        span_ready = max(ready[i] for i in sent if i in ready) - first
        span_closed = max(closed[i] for i in sent if i in closed) - first
        missing = len(set(sent) - closed.keys())
        ok &= missing == 0
        echo(f"{m:>3} {len(lat) / span_ready.total_seconds():>9.1f} "
             f"{(len(sent) - missing) / span_closed.total_seconds():>9.1f} "
             f"{statistics.median(lat):>8.0f} {_p95(lat):>8.0f} {missing:>5}")
    return ok


@dataclass
class ChaosReport:
    """What `bench chaos` did and what survived it."""

    trials: int = 0
    faults: list[str] = field(default_factory=list)
    incidents: int = 0
    decisions: int = 0
    terminal: int = 0
    states: dict[str, int] = field(default_factory=dict)
    acked: int = 0
    lost: int = 0
    approvals: int = 0
    executions: int = 0
    double_executions: int = 0
    retried_webhooks: int = 0
    kube_faults: dict[str, int] = field(default_factory=dict)
    kube_calls: int = 0
    applied_twice: int = 0  # identical writes the API server received twice (seen by the proxy)
    failed_executions: list[str] = field(default_factory=list)  # their reasons
    open_decisions: list[str] = field(default_factory=list)  # not closed when settling ended
    redis_events: int = -1  # events fanned out to Redis before it was cut (-1: not cut)


def _sandbox(work: Path, webhook: str, token: str) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    log = work / "sandbox.log"
    env = {"WARROOM_HOME": str(work / "sandbox"), "WARROOM_SANDBOX_TICK_INTERVAL_SECONDS": "0.25",
           "WARROOM_TOKEN": token}  # its webhooks authenticate like Alertmanager's
    with log.open("wb") as out:
        proc = subprocess.Popen([*WARROOM, "sandbox", "run", "--port", str(port),
                                 "--webhook-url", webhook], env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while b"kubeconfig" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    line = log.read_text()
    kubeconfig = line.split("kubeconfig ", 1)[1].split(";", 1)[0]
    return proc, f"http://127.0.0.1:{port}", kubeconfig


SETTLE_QUIET = 10.0  # seconds without a new decision before the storm counts as settled


async def _chaos(fleet: Fleet, report: ChaosReport, *, incidents: int, kills: int,
                 outage: float, sandbox: str | None, rng: random.Random, echo: Echo,
                 redis: Proxy | None = None, redis_url: str = "", settle: float = 240.0) -> None:
    run = uuid.uuid4().hex[:6]
    stop_at = asyncio.Event()
    sent_fps: set[str] = set()

    async def storm(client: httpx.AsyncClient) -> None:
        for index in range(incidents):
            body = storm_webhook(index, run)
            acked, _, retries = await post_until_acked(client, rng.choice(fleet.bases), body)
            report.retried_webhooks += retries
            if acked:
                report.acked += 1
                sent_fps.add(body["alerts"][0]["fingerprint"])
            await asyncio.sleep(rng.uniform(0, 0.1))

    async def killer() -> None:
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            victim = await asyncio.to_thread(fleet.kill_random_worker, rng)
            report.trials += 1
            echo(f"  kill -9 {victim}; starting a replacement")
            await asyncio.to_thread(fleet.start_worker, False)

    async def approver(client: httpx.AsyncClient) -> None:
        engine = make_engine(fleet.direct_url)
        answered: set[str] = set()
        try:
            while not stop_at.is_set():
                async with make_sessionmaker(engine)() as session:
                    tokens = await repository.awaiting_approval(session)
                for token in set(tokens) - answered:
                    try:  # an API process busy recovering from an outage: ask again later
                        r = await client.post(f"{rng.choice(fleet.bases)}/api/v1/decisions/"
                                              f"{token}/approve", json={"comment": "chaos bench"})
                    except httpx.HTTPError:
                        continue
                    if r.status_code == 200:
                        answered.add(token)
                        report.approvals += 1
                await asyncio.sleep(0.5)
        finally:
            await engine.dispose()

    async def database_outage() -> None:
        if fleet.proxy is None or not outage:
            return
        await asyncio.sleep(rng.uniform(2.0, 4.0))
        echo(f"  PostgreSQL unavailable for {outage:g} s (every connection dropped)")
        report.faults.append(f"postgres-outage-{outage:g}s")
        await asyncio.to_thread(fleet.proxy.outage, outage)

    async def redis_cut() -> None:
        if redis is None:
            return
        before = await redis_events(redis_url)
        # cut it once the fan-out is seen working: events in Redis
        for _ in range(120):
            report.redis_events = await redis_events(redis_url)
            if report.redis_events > before:
                break
            await asyncio.sleep(0.5)
        report.redis_events -= before
        echo(f"  Redis unavailable from now on ({report.redis_events} events fanned out "
             "before)")
        report.faults.append("redis-down")
        await asyncio.to_thread(redis.cut)

    async with httpx.AsyncClient(timeout=10, headers=fleet.headers) as client:
        if sandbox is not None:
            for fault, service in (("traffic_surge", "checkout"), ("cpu_saturation", "search")):
                await client.post(f"{sandbox}/api/v1/sandbox/faults",
                                  json={"fault": fault, "service": service})
                report.faults.append(f"sandbox:{fault}/{service}")
        approving = asyncio.create_task(approver(client))
        await asyncio.gather(storm(client), killer(), database_outage(), redis_cut())
        report.faults.append(f"kill-9 x{report.trials}")
        await asyncio.sleep(5.0 if sandbox is None else 30.0)  # let the faults' decisions come
        if sandbox is not None:  # end the alert stream: a round opened at the deadline is no hang
            await _clear_sandbox_faults(client, sandbox, echo)
        # settled: every decision closed, and no new one for SETTLE_QUIET seconds (an alert
        # resolving after the faults were cleared may still open a round, which needs approving)
        deadline = time.monotonic() + settle
        seen: set[str] = set()
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            decisions, closed = await _decisions(fleet.direct_url)
            tokens = {d.token for d in decisions}
            if tokens != seen:
                seen, quiet_since = tokens, time.monotonic()
            if (decisions and tokens <= closed
                    and time.monotonic() - quiet_since >= SETTLE_QUIET):
                break
            await asyncio.sleep(1.0)
        stop_at.set()
        await approving
    decisions, closed = await _decisions(fleet.direct_url)
    engine = make_engine(fleet.direct_url)
    async with make_sessionmaker(engine)() as session:
        calls = await repository.execution_calls(session)
        stored = await repository.fingerprints(session)
        failed = await repository.failed_executions(session)
    await engine.dispose()
    report.states = dict(Counter(d.status for d in decisions))
    report.incidents = len({d.incident_id for d in decisions})
    report.decisions = len(decisions)
    report.terminal = sum(1 for d in decisions if d.token in closed)
    report.executions = len(calls)
    report.double_executions = sum(1 for n in calls.values() if n > 1)
    report.lost = len(sent_fps - stored)
    report.failed_executions = sorted({error[:300] for _, error in failed})
    report.open_decisions = [f"{d.token} {d.status}, opened {d.created_at:%H:%M:%S}, last change "
                             f"{d.updated_at:%H:%M:%S}" for d in decisions if d.token not in closed]


async def _clear_sandbox_faults(client: httpx.AsyncClient, sandbox: str, echo: Echo) -> None:
    r = await client.get(f"{sandbox}/api/v1/sandbox/faults")
    r.raise_for_status()
    faults = r.json()["faults"]
    for fault in faults:
        (await client.delete(f"{sandbox}/api/v1/sandbox/faults/{fault['id']}")).raise_for_status()
    echo(f"  sandbox faults cleared before settling ({len(faults)} still injected)")


async def _decisions(url: str) -> tuple[list[Any], set[str]]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            return (await repository.round_decisions(session),
                    await repository.closed_decisions(session))
    finally:
        await engine.dispose()


def run_chaos(*, apis: int, workers: int, incidents: int, kills: int, outage: float,
              sandbox: bool, postgres_url: str, seed: int, echo: Echo, kube_fault_rate: float = 0.0,
              redis_url: str = "", model_outage: int = 0, settle: float = 240.0) -> bool:
    """Run a storm with approvals through kill -9s and a database outage; print what survived.

    With the sandbox, `kube_fault_rate` > 0 puts a fault-injecting proxy in front of its
    Kubernetes API; `redis_url` fans events out to that Redis through a proxy cut mid-storm;
    `model_outage` > 0 then runs that many incidents with unreachable model providers.
    """
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="warroom-chaos-"))
    url, drop = _database(postgres_url, work)
    # verification gives up after 30 s: the sandbox's faults may outlive the run
    fleet = Fleet(url, work, proxy=True, env={"WARROOM_VERIFY_TIMEOUT_SECONDS": "30"})
    fleet.mint_token()  # and migrate the database, before any process starts
    report = ChaosReport()
    box = kube = redis = None
    try:
        for _ in range(apis):
            fleet.start_api()
        if sandbox:
            box, box_url, kubeconfig = _sandbox(
                work, f"{fleet.bases[0]}/api/v1/alerts/alertmanager", fleet.token)
            fleet.env.update({"WARROOM_KUBECONFIG": kubeconfig, "WARROOM_PROMETHEUS_URL": box_url,
                              "WARROOM_SHADOW_MODE": "false"})
            if kube_fault_rate:
                kube, kubeconfig = kube_faults(box_url, work, rate=kube_fault_rate, seed=seed,
                                               timeout=2.0)
                fleet.env.update({"WARROOM_KUBECONFIG": kubeconfig,
                                  "WARROOM_KUBE_TIMEOUT_SECONDS": "2"})
                report.faults.append(f"kubernetes API faults at {kube_fault_rate:g} of writes")
        if redis_url:
            target = urlsplit(redis_url)
            redis = Proxy(target.hostname or "127.0.0.1", target.port or 6379)
            fleet.env["WARROOM_REDIS_URL"] = f"redis://127.0.0.1:{redis.port}/{REDIS_DB}"
        for _ in range(workers):
            fleet.start_worker()
        echo(f"bench chaos: {apis} API processes, {workers} workers on PostgreSQL through a "
             f"proxy, {incidents} incidents, seed {seed}")
        asyncio.run(_chaos(fleet, report, incidents=incidents, kills=kills, outage=outage,
                           sandbox=box_url if sandbox else None, rng=rng, echo=echo, redis=redis,
                           redis_url=urlsplit(redis_url)._replace(path=f"/{REDIS_DB}").geturl(),
                           settle=settle))
    finally:
        if box is not None:
            stop(box)
        if kube is not None:
            report.kube_faults = dict(kube.log.injected)
            report.kube_calls = kube.log.calls
            report.applied_twice = kube.log.double_applies
            kube.close()
        if redis is not None:
            redis.close()
        fleet.close()
        drop()
    for name, value in (
        ("trials (kill -9)", report.trials), ("faults injected", ", ".join(report.faults)),
        ("incidents", report.incidents), ("decisions", report.decisions),
        ("terminal (closed)", report.terminal), ("decision states", report.states),
        ("alerts acknowledged", report.acked), ("webhook retries", report.retried_webhooks),
        ("lost alerts", report.lost), ("approvals", report.approvals),
        ("executions", report.executions), ("double executions", report.double_executions),
    ):
        echo(f"  {name:<22} {value}")
    if kube is not None:
        echo(f"  {'kubernetes calls':<22} {report.kube_calls}, faults injected "
             f"{sum(report.kube_faults.values())}: {report.kube_faults}")
        echo(f"  {'writes applied twice':<22} {report.applied_twice}")
    for reason in report.failed_executions:
        echo(f"  failed execution: {reason}")
    for line in report.open_decisions:
        echo(f"  not closed: {line}")
    ok = (report.lost == 0 and report.double_executions == 0 and report.applied_twice == 0
          and report.terminal == report.decisions)
    if model_outage:
        ok &= run_model_outage(postgres_url=postgres_url, incidents=model_outage, echo=echo)
    echo("ok" if ok else "FAILED")
    return ok
