"""Prometheus adapter: `query_range` over the canonical series names, scoped to the incident.

The canonical names are what `deploy/recording-rules.yaml` records. Where a Prometheus has no
such rules (none of a group's canonical series comes back), the families those rules are
computed from are asked for instead: requests by status and latency histograms, summed over
method and route; cAdvisor's CPU, throttling and memory with kube-state-metrics' limits,
summed per container; a node's CPU, memory and root filesystem shares from node-exporter.
The Diagnostician derives the same golden signals from them (`agents/diagnostician/
families.py`). The calls a service mesh or a service graph counts are
asked for on every incident: they are the call graph (`mesh.py`). Each query is recorded
exactly as sent; a failed query is reported, the others still count.
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
# the raw families each group's recording rules are computed from: (name, PromQL with
# `{scope}` for the namespace matcher); asked for only when the group's canonical series are
# missing. A request family is summed over what splits one service's requests by what was
# asked; a container's series per container (cAdvisor repeats them under other labels).
_BY_REQUEST = "method, route, handler, path, uri, endpoint"
_CONTAINER = 'container!="", container!="POD"'
_NGINX = "namespace, service, exported_namespace, exported_service, ingress, status"
# requests by status and latency histograms as the common libraries name them: the Prometheus
# clients' convention, Micrometer (Spring), OpenTelemetry (current and older semantic
# conventions) and go-grpc-prometheus
RAW_SERVICE_FAMILIES = (
    "http_requests_total", "http_request_duration_seconds_bucket",
    "http_server_requests_seconds_count", "http_server_requests_seconds_bucket",
    "http_server_request_duration_seconds_count", "http_server_request_duration_seconds_bucket",
    "http_server_duration_milliseconds_count", "http_server_duration_milliseconds_bucket",
    "grpc_server_handled_total",
)
RAW_SERVICE_SERIES = tuple((name, f"sum without ({_BY_REQUEST}) ({name}{{scope}})")
                           for name in RAW_SERVICE_FAMILIES) + tuple(
    # span metrics name services, not namespaces: asked for whole, summed over span names;
    # OpenTelemetry's span metrics connector, and Grafana Tempo's metrics generator (its
    # latency histogram in seconds, the service in `service`)
    (name, f"sum without (span_name) ({name})")
    for name in ("traces_span_metrics_calls_total",
                 "traces_span_metrics_duration_milliseconds_bucket",
                 "traces_spanmetrics_calls_total", "traces_spanmetrics_latency_bucket")) + tuple(
    # NGINX ingress counts each backend's requests by status; its backend's namespace is
    # `namespace`, or `exported_namespace` where the scrape kept the controller's own: asked
    # for by each (once when every namespace is wanted)
    ("nginx_ingress_controller_requests", f"sum by ({_NGINX}) "
     f"(nginx_ingress_controller_requests{{{scope}}})")
    for scope in ("scope", "exported_scope"))
RAW_POD_SERIES = tuple(
    (name, f"sum by (namespace, pod, container{extra}) ({name}{{{selector}{{sep}}{{scope}}}})")
    for name, extra, selector in (
        ("container_cpu_usage_seconds_total", "", _CONTAINER),
        ("container_memory_working_set_bytes", "", _CONTAINER),
        ("container_cpu_cfs_throttled_periods_total", "", _CONTAINER),
        ("container_cpu_cfs_periods_total", "", _CONTAINER),
        ("kube_pod_container_resource_limits", ", resource", 'resource=~"cpu|memory"'),
    ))
# a node's shares of its CPU, memory and root filesystem from node-exporter, as the recording
# rules compute them, but by the scrape's instance (the Diagnostician reads node-exporter's
# instance as its node: `labels.own_labels`); not scoped, as nodes belong to no namespace
RAW_NODE_SERIES = (
    ("node_cpu_usage_ratio",
     '1 - avg by (instance, job) (rate(node_cpu_seconds_total{mode="idle"}[2m]))'),
    ("node_memory_usage_ratio",
     "1 - sum by (instance, job) (node_memory_MemAvailable_bytes)"
     " / sum by (instance, job) (node_memory_MemTotal_bytes)"),
    ("node_filesystem_usage_ratio",
     '1 - max by (instance, job) (node_filesystem_avail_bytes{mountpoint="/"}'
     ' / node_filesystem_size_bytes{mountpoint="/"})'),
)
# the calls between services as a service mesh (Istio, Linkerd) or a tracing backend's service
# graph counts them: the call graph and each callee's answers to each caller (`mesh.py`), asked
# for on every incident as no recording rule keeps them. (name, labels summed by, the label
# that scopes it to the incident's namespaces, a selector of its own)
_ISTIO_CALL = ("reporter, source_workload, source_workload_namespace, destination_workload, "
               "destination_workload_namespace, destination_service_name")
_LINKERD_CALL = "deployment, namespace, dst_deployment, dst_namespace"
MESH_FAMILIES = (
    ("istio_requests_total", f"{_ISTIO_CALL}, response_code, grpc_response_status",
     "destination_workload_namespace", ""),
    ("istio_request_duration_milliseconds_bucket", f"{_ISTIO_CALL}, le",
     "destination_workload_namespace", ""),
    ("istio_tcp_connections_opened_total", _ISTIO_CALL, "source_workload_namespace", ""),
    ("response_total", f"{_LINKERD_CALL}, classification", "namespace",
     'direction="outbound"'),
    ("response_latency_ms_bucket", f"{_LINKERD_CALL}, le", "namespace", 'direction="outbound"'),
    ("traces_service_graph_request_total", "client, server", "", ""),
    ("traces_service_graph_request_failed_total", "client, server", "", ""),
    ("traces_service_graph_request_server_seconds_bucket", "client, server, le", "", ""),
)
# the canonical series whose absence means the group's recording rules are not loaded
_RECORDED_SERVICE = ("service:requests:rate1m", "service:errors:ratio_rate1m",
                     "service:latency_seconds:p99_1m", "service:latency_seconds:p95_1m",
                     "service:latency_seconds:p50_1m")
_RECORDED_POD = ("pod:cpu_usage:ratio", "pod:memory_working_set:ratio")
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


def build_raw_queries(request: SensorRequest, *, services: bool, pods: bool,
                      nodes: bool = False) -> list[tuple[str, str]]:
    """Return (name, PromQL) of the raw families for the groups whose recording rules are
    missing, scoped to the request's namespaces (nodes' are not scoped)."""
    ns = _matcher("namespace", request.namespaces)
    exported = _matcher("exported_namespace", request.namespaces)
    wanted = (RAW_SERVICE_SERIES if services else ()) + (RAW_POD_SERIES if pods else ())
    out = list(RAW_NODE_SERIES) if nodes else []
    for name, template in wanted:
        if "{sep}" in template:  # a selector of its own: the scope joins it
            query = template.replace("{sep}", ", " if ns else "").replace("{scope}", ns)
        else:
            query = template.replace("{scope}", "{" + ns + "}" if ns else "").replace(
                "{exported_scope}", "{" + exported + "}" if exported else "")
        if (name, query) not in out:
            out.append((name, query))
    return out


def build_mesh_queries(request: SensorRequest) -> list[tuple[str, str]]:
    """Return (name, PromQL) of the mesh and service-graph families, scoped to the request's
    namespaces where the family names them."""
    out = []
    for name, by, label, selector in MESH_FAMILIES:
        scope = _matcher(label, request.namespaces) if label else ""
        matchers = ", ".join(m for m in (selector, scope) if m)
        out.append((name, f"sum by ({by}) ({name}{{{matchers}}})" if matchers
                    else f"sum by ({by}) ({name})"))
    return out


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
            found_names = {s.name for found, _ in answers for s in found}
            # a Prometheus that failed every query would fail these too (and time out again)
            reached = any(error is None for _, error in answers)
            raw = build_raw_queries(
                request, services=reached and not found_names & set(_RECORDED_SERVICE),
                pods=reached and not found_names & set(_RECORDED_POD),
                nodes=reached and not found_names & set(NODE_SERIES))
            raw += build_mesh_queries(request) if reached else []
            # a counter's first sample has no rate: start one step earlier
            early = {**params, "start": f"{start.timestamp() - self.step_seconds:.3f}"}
            answers += await asyncio.gather(
                *(self._query(client, q, early, name=name) for name, q in raw))
        sent = [(q, params) for q in queries] + [(q, early) for _, q in raw]
        queries = [q for q, _ in sent]
        series: list[Series] = []
        errors: list[str] = []
        for query, (found, error) in zip(queries, answers, strict=True):
            series.extend(found)
            if error:
                errors.append(f"{query}: {error}")
        recorded = [f"GET /api/v1/query_range?query={q}&start={p['start']}"
                    f"&end={p['end']}&step={p['step']}" for q, p in sent]
        if errors and len(errors) == len(queries):
            status, error = "error", "; ".join(errors)[:2000]
        else:
            status = "ok" if series else "empty"
            error = "; ".join(errors)[:2000] if errors else None
        asked = f"{len(queries) - len(raw)} canonical series" + (
            f" and {len(raw)} raw and mesh families" if raw else "")
        note = "" if series else (
            f"searched {asked} in {','.join(request.namespaces) or 'all namespaces'}, "
            "found nothing")
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

    async def _query(self, client: httpx.AsyncClient, query: str, params: dict[str, str],
                     name: str = "") -> tuple[list[Series], str | None]:
        """Run one range query; its series are named `name` (an aggregation drops the name),
        else by the metric the query selects."""
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
            metric.setdefault("__name__", name or query.split("{", 1)[0])
            out.append(Series(metric=metric, values=[(float(t), str(v)) for t, v in
                                                     item.get("values") or []]))
        return out, None
