"""Run `warroom bench stats` on one or two databases and print the figures."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from warroom.bench.ingest import _database
from warroom.bench.stats_seed import seed as seed_history
from warroom.config import Settings
from warroom.store.db import make_engine

BAR_MS = 500.0  # every endpoint, every window
ENDPOINTS = ("incidents", "resolution", "ai", "services", "playbooks")


async def _measure(url: str, home: Path, *, incidents: int, days: float, repeat: int,
                   seed: int, echo: Callable[[str], None]) -> bool:
    # lazy: cold import cost (python -X importtime): warroom.api.testing ~1662 ms (pulls alembic,
    # fastapi, opentelemetry, prometheus_client, sqlalchemy, starlette, uvicorn),
    # warroom.store.migrate ~415 ms (pulls alembic, sqlalchemy); kept off the module's import path
    from warroom.api.testing import app_client
    from warroom.store.migrate import upgrade

    engine = make_engine(url)
    try:
        await upgrade(engine)
        began = time.perf_counter()
        seeded = await seed_history(engine, incidents=incidents, days=days,
                                    end=datetime.now(UTC), seed=seed)
        took = time.perf_counter() - began
        if engine.dialect.name == "postgresql":
            # what autovacuum does after a bulk load: statistics, and the visibility map that
            # lets the stats read their covering indexes alone
            async with engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text("VACUUM ANALYZE"))
        rows = ", ".join(f"{n} {k}" for k, n in seeded.rows.items())
        echo(f"seeded in {took:.1f} s: {rows}")
        settings = Settings(home=home, database_url=url, embedded_worker=False,
                            _env_file=None)
        ok = True
        async with app_client(settings, engine=engine, hooks=False) as client:
            for window, params in (("last 7 days", {"days": 7}),
                                   (f"all {days:g} days", {"days": days + 1})):
                for name in ENDPOINTS:
                    times = []
                    for _ in range(repeat + 1):  # the first request warms the caches
                        start = time.perf_counter()
                        response = await client.get(f"/api/v1/stats/{name}", params=params)
                        times.append((time.perf_counter() - start) * 1000)
                        if response.status_code != 200:
                            echo(f"  {name}: HTTP {response.status_code} {response.text[:200]}")
                            return False
                    warm = times[1:]
                    median, worst = statistics.median(warm), max(warm)
                    verdict = "ok" if median < BAR_MS else "OVER"
                    ok = ok and median < BAR_MS
                    echo(f"  {window:>14} {name:<11} median {median:7.1f} ms  max "
                         f"{worst:7.1f} ms  first {times[0]:7.1f} ms  {verdict}")
        return ok
    finally:
        await engine.dispose()


def run(*, incidents: int, days: float, database_url: str, repeat: int, seed: int,
        echo: Callable[[str], None]) -> bool:
    """Seed and time SQLite, then PostgreSQL when a URL is given; True when all pass."""
    ok = True
    echo(f"warroom bench stats: {incidents} incidents over {days:g} days, "
         f"median of {repeat} requests per endpoint (bar {BAR_MS:.0f} ms)")
    with tempfile.TemporaryDirectory(prefix="warroom-bench-stats-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        targets = [("SQLite", "")] + ([("PostgreSQL", database_url)] if database_url else [])
        for label, base in targets:
            url, drop = _database(base, work)
            echo(f"{label}:")
            try:
                ok = asyncio.run(_measure(url, work / "home", incidents=incidents, days=days,
                                          repeat=repeat, seed=seed, echo=echo)) and ok
            finally:
                drop()
    return ok
