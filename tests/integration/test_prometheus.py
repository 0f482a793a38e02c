"""A real Prometheus scrapes the sandbox's `/metrics`; warroom's Prometheus sensor reads it back."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from integration.services import log_tail, prometheus
from warroom.config import Settings
from warroom.sandbox.runtime import SandboxRuntime
from warroom.sensors.models import SensorRequest, Series
from warroom.sensors.prometheus import PrometheusSensor, build_mesh_queries

pytestmark = pytest.mark.integration

ERRORS = 'service:errors:ratio_rate1m{namespace="shop",service="checkout"}'
GOLDEN = (
    "service:requests:rate1m",
    "service:errors:ratio_rate1m",
    "service:latency_seconds:p99_1m",
)
SCRAPES = 6  # the window ends 2 s back, so 6 one-second scrapes leave >= 3 samples inside it


def scrape_config(target: str) -> str:
    """Scrape the sandbox every second, keeping its own namespace/service labels."""
    return f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sandbox
    honor_labels: true
    static_configs:
      - targets: ["{target}"]
"""


async def scraped_samples(client: httpx.AsyncClient, prom: str) -> int:
    """Return how many scrapes of the checkout error ratio Prometheus holds for the last minute."""
    response = await client.get(
        f"{prom}/api/v1/query", params={"query": f"count_over_time({ERRORS}[1m])"}
    )
    result = response.json()["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


def key(series: Series) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[float, str], ...]]:
    return tuple(sorted(series.metric.items())), tuple(series.values)


async def test_prometheus_sensor_reads_what_prometheus_scraped_from_the_sandbox(
    prometheus_binary: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", _env_file=None)  # type: ignore[call-arg]
    runtime = SandboxRuntime(settings, webhook_url="")  # no alerts: only /metrics matters here
    await runtime.start()
    stack = ExitStack()
    try:
        target = f"127.0.0.1:{runtime.port}"
        # start Prometheus off the event loop, which keeps serving the sandbox meanwhile
        prom = await asyncio.to_thread(
            stack.enter_context, prometheus(prometheus_binary, tmp_path, scrape_config(target))
        )
        async with httpx.AsyncClient(timeout=5.0) as client:
            deadline = time.monotonic() + 20
            while (samples := await scraped_samples(client, prom)) < SCRAPES:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"Prometheus scraped {target} only {samples} times in 20 s\n"
                        f"{log_tail(tmp_path / 'prometheus.log')}",
                        pytrace=False,
                    )
                await asyncio.sleep(0.5)

            # end the window 2 s back so no scrape inside it is still being appended; whole
            # seconds, so the window's bounds are exact in the millisecond timestamps
            now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
            request = SensorRequest(
                now=now, lookback_seconds=60, namespaces=["shop"], services=["checkout"]
            )
            result = await PrometheusSensor(prom, step_seconds=1).collect(request)

            run = result.run
            assert (run.sensor, run.status, run.error) == ("metrics", "ok", None), run
            assert run.items == len(result.data.series) > 0
            window = f"&start={now.timestamp() - 60:.3f}&end={now.timestamp():.3f}&step=1s"
            assert (
                f'GET /api/v1/query_range?query=service:errors:ratio_rate1m{{namespace="shop"}}'
                f"{window}" in run.queries
            )
            # the recording rules are loaded: no raw family is asked for, only the mesh's
            # calls, counters read from one step before the window
            early = f"&start={now.timestamp() - 61:.3f}&end={now.timestamp():.3f}&step=1s"
            mesh = dict(build_mesh_queries(request)).values()
            for query in run.queries:
                selector = dict(parse_qsl(urlsplit(query[4:]).query))["query"]
                assert query.startswith("GET /api/v1/query_range?query=") and query.endswith(
                    early if selector in mesh else window
                ), query
                assert selector in mesh or selector.startswith("node:") or selector.endswith(
                    '{namespace="shop"}')
            assert sum(q.endswith(early) for q in run.queries) == len(mesh)

            # the recorded queries are exactly what was asked: replayed, they give the same series
            replayed: list[Series] = []
            for query in run.queries:
                params = dict(parse_qsl(urlsplit(query[4:]).query))
                body = (await client.get(f"{prom}/api/v1/query_range", params=params)).json()
                assert body["status"] == "success", (query, body)
                replayed += [Series.model_validate(item) for item in body["data"]["result"]]
            assert sorted(map(key, replayed)) == sorted(map(key, result.data.series))

        assert all(
            s.metric.get("namespace") == "shop" or s.name.startswith("node:")
            for s in result.data.series
        ), "a series outside the requested namespace came back"
        checkout = {
            s.name: s for s in result.data.series if s.metric.get("service") == "checkout"
        }
        assert set(GOLDEN) <= set(checkout), sorted(checkout)
        errors = checkout["service:errors:ratio_rate1m"]
        # the labels prove the sample went through the real scrape, not the sandbox's own API
        assert errors.metric == {
            "__name__": "service:errors:ratio_rate1m",
            "namespace": "shop",
            "service": "checkout",
            "job": "sandbox",
            "instance": target,
        }
        assert len(errors.values) >= 3
        assert all(now.timestamp() - 60 <= t <= now.timestamp() for t, _ in errors.values)
        # every value is one the sandbox really exposed for that series
        for name in GOLDEN:
            ((_, exposed),) = runtime.sandbox.series.select(
                f'{name}{{namespace="shop",service="checkout"}}'
            )
            served = {round(v, 6) for _, v in exposed}
            assert {float(v) for _, v in checkout[name].values} <= served, name
    finally:
        await asyncio.to_thread(stack.close)
        await runtime.stop()
