"""The measurements behind `warroom bench pipeline` (imported only when it runs)."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from warroom.bench.ingest import _database
from warroom.bench.processes import free_port, mint_token, start_warroom, stop
from warroom.config import Settings
from warroom.store.times import utc
from warroom.workflow.runtime import Runtime

TARGET_P95_MS = 250.0


def _webhook(index: int, run: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    labels = {"alertname": "HighErrorRatio", "namespace": "bench", "service": f"svc-{index}",
              "severity": "critical", "run": run}
    return {
        "version": "4", "status": "firing", "receiver": "warroom", "groupKey": f"{run}-{index}",
        "groupLabels": {"service": labels["service"]}, "commonLabels": labels,
        "commonAnnotations": {}, "externalURL": "http://alertmanager",
        "alerts": [{"status": "firing", "labels": labels,
                    "annotations": {"summary": "error ratio above 5%"}, "startsAt": now,
                    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
                    "fingerprint": uuid.uuid4().hex[:16]}],
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _at(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


async def _latencies(base: str, incidents: int, token: str
                     ) -> tuple[list[tuple[float, float]], int]:
    """Return (webhook -> decision opened, decision opened -> ready) in ms, and the timeouts."""
    run, out, timeouts = uuid.uuid4().hex[:6], [], 0
    async with httpx.AsyncClient(base_url=base, timeout=30.0,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for index in range(incidents):
            sent = datetime.now(UTC)
            response = await client.post("/api/v1/alerts/alertmanager", json=_webhook(index, run))
            response.raise_for_status()
            incident_id = response.json()["incidents"][0]["id"]
            deadline = time.monotonic() + 60
            while True:
                detail = (await client.get(f"/api/v1/incidents/{incident_id}")).json()
                decision = detail.get("decision") or {}
                if decision.get("status") not in (None, "analyzing"):
                    break
                if time.monotonic() > deadline:
                    timeouts += 1
                    break
                await asyncio.sleep(0.25)  # the figure comes from ready_at, not from here
            if not decision.get("token"):
                continue
            view = (await client.get(f"/api/v1/decisions/{decision['token']}")).json()
            opened, ready = _at(view["created_at"]), _at(view["ready_at"])
            out.append(((opened - sent).total_seconds() * 1000,
                        (ready - opened).total_seconds() * 1000))
    return out, timeouts


def _pipeline(database_url: str, incidents: int, work: Path, echo: Callable[[str], None],
              label: str) -> bool:
    url, drop = _database(database_url, work)
    port = free_port()
    env = {"WARROOM_HOME": str(work / "home"), "WARROOM_DATABASE_URL": url,
           "WARROOM_AGENT_BACKEND": "rules", "WARROOM_SHADOW_MODE": "true",
           "WARROOM_LOG_LEVEL": "WARNING"}
    token = mint_token(url)
    proc = start_warroom(port, env, work / f"serve-{label}.log")
    try:
        parts, timeouts = asyncio.run(_latencies(f"http://127.0.0.1:{port}", incidents, token))
    finally:
        stop(proc)
        drop()
    if not parts:
        echo(f"{label}: no decision became ready")
        return False
    latencies = [a + b for a, b in parts]
    p50, p95 = _percentile(latencies, 0.5), _percentile(latencies, 0.95)
    echo(f"{label:<10} webhook -> decision ready over {len(latencies)} incidents: "
         f"p50 {p50:.1f} ms  p95 {p95:.1f} ms  max {max(latencies):.1f} ms  "
         f"mean {statistics.fmean(latencies):.1f} ms  timeouts {timeouts}")
    for name, values in (("ingest+queue+dispatch (webhook -> decision opened)",
                          [a for a, _ in parts]),
                         ("sense+debate+decide (opened -> ready)", [b for _, b in parts])):
        echo(f"{'':<10}   {name}: p50 {_percentile(values, 0.5):.1f} ms  "
             f"p95 {_percentile(values, 0.95):.1f} ms")
    return timeouts == 0


def _step_overhead(database_url: str, steps: int, work: Path, echo: Callable[[str], None],
                   label: str) -> None:
    # lazy: cold import cost (python -X importtime): warroom.bench.dbos_probe ~459 ms (pulls dbos,
    # sqlalchemy), warroom.workflow.engine ~116 ms (pulls opentelemetry, sqlalchemy); kept off the
    # module's import path
    from warroom.bench import dbos_probe
    from warroom.workflow import engine

    url, drop = _database(database_url, work)
    settings = Settings(home=work / f"probe-{label}", database_url=url,
                        _env_file=None)
    probe = dbos_probe.register()
    runtime = Runtime(settings)
    engine.launch(runtime)
    runs = 30

    async def measure() -> tuple[float, float, float]:
        started = time.perf_counter()
        for _ in range(runs):
            for _ in range(steps):
                await dbos_probe.noop_body()
        direct = time.perf_counter() - started
        # called directly, a workflow runs inline: no queue and no result polling in the figure
        started = time.perf_counter()
        for _ in range(runs):
            await probe.empty_workflow()
        empty = (time.perf_counter() - started) / runs
        started = time.perf_counter()
        for _ in range(runs):
            await probe.steps_workflow(steps)
        durable = time.perf_counter() - started
        return direct, empty, durable

    try:
        direct, empty, durable = asyncio.run(measure())
    finally:
        engine.shutdown(runtime)
        drop()
    per_step = (durable - direct - empty * runs) / (runs * steps) * 1000
    echo(f"{label:<10} DBOS overhead: {per_step:.2f} ms per step, "
         f"{empty * 1000:.2f} ms per empty workflow ({runs} workflows x {steps} steps)")


def run(*, incidents: int, postgres_url: str, steps: int, echo: Callable[[str], None]) -> bool:
    """Run the pipeline benchmark on SQLite (and PostgreSQL when given) and print the figures."""
    ok = True
    targets = [("sqlite", "")] + ([("postgresql", postgres_url)] if postgres_url else [])
    with tempfile.TemporaryDirectory(prefix="warroom-bench-") as tmp:
        for label, url in targets:
            work = Path(tmp) / label
            work.mkdir()
            ok = _pipeline(url, incidents, work, echo, label) and ok
            _step_overhead(url, steps, work, echo, label)
    echo(f"target: p95 < {TARGET_P95_MS:.0f} ms on SQLite")
    return ok
