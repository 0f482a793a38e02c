"""Prometheus adapter: `query_range` over the canonical series names, scoped to the incident.

Each query is recorded exactly as sent; a failed query is reported, the others still count.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import httpx

from warroom.sensors.models import EvidenceData, SensorRequest, SensorResult, SensorRun, Series

# series scoped by namespace (and, where it has one, by service)
SERVICE_SERIES = (
    "service:requests:rate1m", "service:errors:ratio_rate1m", "service:latency_seconds:p99_1m",
    "service:latency_seconds:p95_1m", "service:latency_seconds:p50_1m",
    "db:connections:ratio", "db:cpu_usage:ratio", "db:storage_usage:ratio",
    "db:replication_lag_seconds", "probe:ssl_expiry_seconds",
)
NAMESPACE_SERIES = (
    "pod:cpu_usage:ratio", "pod:cpu_throttled:ratio", "pod:memory_working_set:ratio",
    "pod:network_latency_seconds:p99_1m", "pvc:usage:ratio",
)
NODE_SERIES = ("node:cpu_usage:ratio", "node:memory_usage:ratio", "node:filesystem_usage:ratio")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")


def _matcher(label: str, values: list[str]) -> str:
    safe = sorted({v for v in values if _LABEL_VALUE.match(v)})
    if not safe:
        return ""
    if len(safe) == 1:
        return f'{label}="{safe[0]}"'
    return f'{label}=~"{"|".join(re.escape(v) for v in safe)}"'


def build_queries(request: SensorRequest) -> list[str]:
    """Return the PromQL selectors for the request's namespaces (all when none are given)."""
    ns = _matcher("namespace", request.namespaces)
    scoped = "{" + ns + "}" if ns else ""
    queries = [f"{name}{scoped}" for name in SERVICE_SERIES + NAMESPACE_SERIES]
    queries += list(NODE_SERIES)
    return queries


class PrometheusSensor:
    """Read golden signals and saturation from a Prometheus HTTP API."""

    name = "metrics"

    def __init__(self, base_url: str, *, step_seconds: int = 60,
                 transport: httpx.AsyncBaseTransport | None = None,
                 request_timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.step_seconds = step_seconds
        self._transport = transport
        self._timeout = request_timeout

    async def collect(self, request: SensorRequest) -> SensorResult:
        """Run every canonical query over the lookback window and merge the matrices."""
        end = request.now
        start = end - timedelta(seconds=request.lookback_seconds)
        queries = build_queries(request)
        params = {"start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
                  "step": f"{self.step_seconds}s"}
        async with httpx.AsyncClient(base_url=self.base_url, transport=self._transport,
                                     timeout=self._timeout) as client:
            answers = await asyncio.gather(
                *(self._query(client, q, params) for q in queries))
        series: list[Series] = []
        errors: list[str] = []
        for query, (found, error) in zip(queries, answers, strict=True):
            series.extend(found)
            if error:
                errors.append(f"{query}: {error}")
        recorded = [f"GET /api/v1/query_range?query={q}&start={params['start']}"
                    f"&end={params['end']}&step={params['step']}" for q in queries]
        if errors and len(errors) == len(queries):
            status, error = "error", "; ".join(errors)[:2000]
        else:
            status = "ok" if series else "empty"
            error = "; ".join(errors)[:2000] if errors else None
        note = "" if series else (
            f"searched {len(queries)} canonical series in "
            f"{','.join(request.namespaces) or 'all namespaces'}, found nothing")
        return SensorResult(
            run=SensorRun(sensor=self.name, status=status, error=error, queries=recorded,
                          items=len(series), note=note),
            data=EvidenceData(series=series))

    async def query_range(self, query: str, *, end: datetime, lookback_seconds: int,
                          step_seconds: int | None = None) -> tuple[list[Series], str | None, str]:
        """Run one PromQL range query; return the series, the error if any, and the request."""
        start = end - timedelta(seconds=lookback_seconds)
        params = {"start": f"{start.timestamp():.3f}", "end": f"{end.timestamp():.3f}",
                  "step": f"{step_seconds or self.step_seconds}s"}
        recorded = (f"GET /api/v1/query_range?query={query}&start={params['start']}"
                    f"&end={params['end']}&step={params['step']}")
        async with httpx.AsyncClient(base_url=self.base_url, transport=self._transport,
                                     timeout=self._timeout) as client:
            series, error = await self._query(client, query, params)
        return series, error, recorded

    async def _query(self, client: httpx.AsyncClient, query: str,
                     params: dict[str, str]) -> tuple[list[Series], str | None]:
        try:
            response = await client.get("/api/v1/query_range", params={"query": query, **params})
        except httpx.HTTPError as exc:
            return [], f"{type(exc).__name__}: {exc}"
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            return [], f"HTTP {response.status_code}: not JSON"
        if response.status_code != 200 or body.get("status") != "success":
            return [], f"HTTP {response.status_code}: {body.get('errorType', '')} " \
                f"{body.get('error', '')}".strip()
        data = body.get("data") or {}
        if data.get("resultType") != "matrix":
            return [], f"expected a matrix, got {data.get('resultType')!r}"
        out: list[Series] = []
        for item in data.get("result") or []:
            metric = dict(item.get("metric") or {})
            metric.setdefault("__name__", query.split("{", 1)[0])
            out.append(Series(metric=metric, values=[(float(t), str(v)) for t, v in
                                                     item.get("values") or []]))
        return out, None
