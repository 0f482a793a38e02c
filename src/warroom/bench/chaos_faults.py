"""The faults `bench chaos` adds around a fleet: a faulty Kubernetes API, Redis cut, a dead model.

- `kube_faults` puts a `KubeFaultProxy` between the workers and the sandbox's API server and
  writes the kubeconfig that goes through it;
- `redis_events` counts the debate events the fleet fanned out to Redis (its streams), to show
  the fan-out worked before Redis was cut;
- `run_model_outage` runs a small fleet whose agents use language models behind a provider that
  accepts connections and never answers and one that refuses them, and checks every decision
  is ready within the debate deadline, from the rule backends.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from warroom.bench import repository
from warroom.bench.faults import KubeFaultProxy, SilentServer
from warroom.bench.fleet import Fleet, post_until_acked, storm_webhook
from warroom.bench.ingest import _database
from warroom.bench.processes import free_port
from warroom.sandbox.runtime import kubeconfig
from warroom.store.db import make_engine, make_sessionmaker

Echo = Callable[[str], None]
REDIS_DB = 11  # a database of the shared Redis no test uses; only read (XLEN), never flushed


def kube_faults(upstream: str, work: Path, *, rate: float, seed: int,
                timeout: float) -> tuple[KubeFaultProxy, str]:
    """Start the fault proxy in front of `upstream`; return it and a kubeconfig through it.

    Writes and dry runs get a fault at `rate`, reads (mostly the sensors') at a fifth of it;
    a timed-out call is held for twice the client's `timeout`.
    """
    proxy = KubeFaultProxy(upstream, rates={"read": rate / 5, "dry-run": rate, "write": rate},
                           seed=seed, hang=2 * timeout)
    path = work / "faulty-kubeconfig.json"
    path.write_text(json.dumps(kubeconfig(proxy.url)))
    return proxy, str(path)


async def redis_events(url: str) -> int:
    """Return how many events the streams of warroom's feed hold in this Redis database."""
    # lazy: cold import cost (python -X importtime): redis.asyncio ~480 ms; kept off the module's
    # import path
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        total = 0
        async for key in client.scan_iter(match="warroom:*", _type="stream"):
            total += int(await client.xlen(key))
        return total
    finally:
        await client.aclose()


def run_model_outage(*, postgres_url: str, incidents: int, echo: Echo) -> bool:
    """Debates with language-model agents whose providers hang or refuse: rules must decide."""
    work = Path(tempfile.mkdtemp(prefix="warroom-chaos-llm-"))
    url, drop = _database(postgres_url, work)
    silent = SilentServer()
    dead = free_port()  # nobody listens: connections are refused
    providers = [
        {"name": "hanging", "model": "chaos", "base_url": f"http://127.0.0.1:{silent.port}/v1",
         "api_key": "chaos"},
        {"name": "refusing", "model": "chaos", "base_url": f"http://127.0.0.1:{dead}/v1",
         "api_key": "chaos"},
    ]
    deadline = 20.0
    fleet = Fleet(url, work, env={
        "WARROOM_AGENT_BACKEND": "llm", "WARROOM_LLM_PROVIDERS": json.dumps(providers),
        "WARROOM_DEBATE_DEADLINE_SECONDS": str(deadline)})
    fleet.mint_token()
    try:
        fleet.start_api()
        fleet.start_worker()
        echo(f"  model provider unavailable: {incidents} incidents, agents on `llm` behind a "
             f"provider that never answers and one that refuses; debate deadline {deadline:g} s")
        sent, ready, states, debates = asyncio.run(_model_storm(fleet, url, incidents))
    finally:
        fleet.close()
        silent.close()
        drop()
    waits = sorted((ready[i] - sent[i]).total_seconds() for i in sent if i in ready)
    debates.sort()
    late = [d for d in debates if d > deadline]
    echo(f"  {'decisions ready':<24} {len(waits)} of {len(sent)} incidents "
         f"({dict(states)}); the hanging provider got {silent.connections} connections")
    if waits:
        echo(f"  {'debate (open -> ready)':<24} max {debates[-1]:.1f} s, median "
             f"{debates[len(debates) // 2]:.1f} s; {len(late)} past the {deadline:g} s deadline")
        echo(f"  {'webhook -> ready':<24} max {waits[-1]:.1f} s, median "
             f"{waits[len(waits) // 2]:.1f} s (with the queue's wait)")
    return bool(sent) and len(waits) == len(sent) and not late and silent.connections > 0


async def _model_storm(fleet: Fleet, url: str, incidents: int) -> tuple[
        dict[str, datetime], dict[str, datetime], dict[str, int], list[float]]:
    run, sent = uuid.uuid4().hex[:6], {}
    async with httpx.AsyncClient(timeout=30, headers=fleet.headers) as client:
        for index in range(incidents):
            at = datetime.now(UTC)
            acked, incident, _ = await post_until_acked(client, fleet.bases[0],
                                                        storm_webhook(index, run))
            if acked and incident is not None:
                sent[incident] = at
    engine = make_engine(url)
    try:
        for _ in range(180):
            async with make_sessionmaker(engine)() as session:
                ready = await repository.ready_times(session)
                states = await repository.decision_states(session)
                debates = await repository.debate_seconds(session)
            if set(sent) <= ready.keys():
                break
            await asyncio.sleep(1.0)
    finally:
        await engine.dispose()
    return sent, ready, dict(states), debates
