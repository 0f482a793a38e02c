from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from warroom.sensors.models import SensorRequest
from warroom.sensors.prometheus import (
    MESH_FAMILIES,
    RAW_NODE_SERIES,
    RAW_POD_SERIES,
    RAW_SERVICE_SERIES,
    PrometheusSensor,
    build_mesh_queries,
    build_queries,
    build_raw_queries,
)

NOW = datetime(2026, 4, 18, 10, 46, tzinfo=UTC)


def matrix(name: str, ns: str) -> dict[str, object]:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": name, "namespace": ns, "service": "checkout"},
         "values": [[1776508800, "0.1"], [1776508860, "0.2"]]}]}}


def test_queries_are_scoped_to_the_incident_namespaces() -> None:
    queries = build_queries(SensorRequest(now=NOW, namespaces=["shop", "db"]))
    assert 'service:errors:ratio_rate1m{namespace=~"db|shop"}' in queries
    assert "node:cpu_usage:ratio" in queries  # nodes are not namespaced
    unscoped = build_queries(SensorRequest(now=NOW))
    assert "service:errors:ratio_rate1m" in unscoped
    hostile = build_queries(SensorRequest(now=NOW, namespaces=['x"} or vector(1) #']))
    assert all("vector" not in q for q in hostile)


async def test_query_range_results_become_series_with_exact_queries() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        query = request.url.params["query"]
        if query.startswith("service:errors"):
            return httpx.Response(200, json=matrix("service:errors:ratio_rate1m", "shop"))
        if query.startswith("pod:cpu_usage"):
            return httpx.Response(400, json={"status": "error", "errorType": "bad_data",
                                             "error": "parse error"})
        return httpx.Response(200, json={"status": "success",
                                         "data": {"resultType": "matrix", "result": []}})

    sensor = PrometheusSensor("http://prom:9090/", transport=httpx.MockTransport(handler))
    result = await sensor.collect(SensorRequest(now=NOW, namespaces=["shop"],
                                                lookback_seconds=600))
    assert result.run.status == "ok"
    assert [s.name for s in result.data.series] == ["service:errors:ratio_rate1m"]
    assert result.data.series[0].values[1] == (1776508860.0, "0.2")
    assert "parse error" in (result.run.error or "")
    # the service rules are loaded; the pods' failed, so their raw families were asked for, and
    # the mesh's calls always are
    assert len(result.run.queries) == len(build_queries(SensorRequest(now=NOW))) + len(
        RAW_POD_SERIES) + len(RAW_NODE_SERIES) + len(MESH_FAMILIES)
    request = seen[0]
    assert request.url.path == "/api/v1/query_range"
    assert float(request.url.params["end"]) - float(request.url.params["start"]) == 600
    assert request.url.params["step"] == "60s"


def _empty() -> httpx.Response:
    return httpx.Response(200, json={"status": "success",
                                     "data": {"resultType": "matrix", "result": []}})


async def test_without_recording_rules_the_raw_families_are_asked_for() -> None:
    seen: dict[str, httpx.Request] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        seen[query] = request
        if query.startswith("sum without") and "(http_requests_total{" in query:
            # an aggregation's result carries no metric name
            return httpx.Response(200, json={"status": "success", "data": {
                "resultType": "matrix", "result": [
                    {"metric": {"namespace": "shop", "service": "checkout", "code": "503"},
                     "values": [[1776508800, "3"], [1776508860, "9"]]}]}})
        return _empty()

    sensor = PrometheusSensor("http://prom:9090", transport=httpx.MockTransport(handler))
    result = await sensor.collect(SensorRequest(now=NOW, namespaces=["shop"],
                                                lookback_seconds=600))
    assert [(s.name, s.metric["code"]) for s in result.data.series] == [
        ("http_requests_total", "503")]
    asked = [q for q in result.run.queries if " by (" in q or "sum without" in q]
    assert len(asked) == len(RAW_SERVICE_SERIES) + len(RAW_POD_SERIES) + len(
        RAW_NODE_SERIES) + len(MESH_FAMILIES)
    raw = seen['sum without (method, route, handler, path, uri, endpoint) '
               '(http_requests_total{namespace="shop"})']
    # a counter's first sample has no rate: one step more than the window
    assert float(raw.url.params["end"]) - float(raw.url.params["start"]) == 660
    assert any('container_cpu_usage_seconds_total{container!="", container!="POD", '
               'namespace="shop"}' in q for q in seen)
    # span metrics name services, not namespaces: asked for whole
    assert "sum without (span_name) (traces_span_metrics_calls_total)" in seen
    assert "sum without (span_name) (traces_spanmetrics_latency_bucket)" in seen  # Tempo's
    # no node:* rule: node-exporter's shares, over every node (nodes have no namespace)
    assert '1 - avg by (instance, job) (rate(node_cpu_seconds_total{mode="idle"}[2m]))' in seen


async def test_recorded_series_ask_for_nothing_raw_but_the_mesh() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params["query"]
        for name in ("service:requests:rate1m", "pod:cpu_usage:ratio", "node:cpu_usage:ratio"):
            if query.startswith(name):
                return httpx.Response(200, json=matrix(name, "shop"))
        return _empty()

    sensor = PrometheusSensor("http://prom:9090", transport=httpx.MockTransport(handler))
    result = await sensor.collect(SensorRequest(now=NOW, namespaces=["shop"]))
    assert len(result.run.queries) == len(build_queries(SensorRequest(now=NOW))) + len(
        MESH_FAMILIES)


def test_mesh_queries_are_scoped_by_the_label_naming_each_side() -> None:
    queries = dict(build_mesh_queries(SensorRequest(now=NOW, namespaces=["shop"])))
    assert queries["istio_requests_total"] == (
        "sum by (reporter, source_workload, source_workload_namespace, destination_workload, "
        "destination_workload_namespace, destination_service_name, response_code, "
        "grpc_response_status) "
        '(istio_requests_total{destination_workload_namespace="shop"})')
    assert queries["response_total"].endswith(
        '(response_total{direction="outbound", namespace="shop"})')
    # a service graph names no namespace: asked for whole
    assert queries["traces_service_graph_request_total"] == (
        "sum by (client, server) (traces_service_graph_request_total)")
    unscoped = dict(build_mesh_queries(SensorRequest(now=NOW)))
    assert unscoped["istio_requests_total"].endswith("(istio_requests_total)")


async def test_unreachable_prometheus_is_an_error_not_an_exception() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    sensor = PrometheusSensor("http://prom:9090", transport=httpx.MockTransport(handler))
    result = await sensor.collect(SensorRequest(now=NOW))
    assert result.run.status == "error"
    assert "connection refused" in (result.run.error or "")
    # what failed every query is not asked for the raw families as well
    assert len(result.run.queries) == len(build_queries(SensorRequest(now=NOW)))
    assert "found nothing" in result.run.note


async def test_against_the_sandbox_prometheus_api(tmp_path: Path) -> None:
    """The same adapter, over real HTTP, against the sandbox's Prometheus-compatible API."""
    from warroom.config import Settings
    from warroom.sandbox.runtime import SandboxRuntime

    settings = Settings(home=tmp_path, sandbox_port=0, _env_file=None)  # type: ignore[call-arg]
    async with SandboxRuntime(settings, clock=False, webhook_url="http://127.0.0.1:1/") as rt:
        now = datetime.fromtimestamp(rt.sandbox.series.to_external(
            rt.sandbox.now.timestamp()), UTC)
        result = await PrometheusSensor(rt.url).collect(
            SensorRequest(now=now, namespaces=["shop"], lookback_seconds=900))
        # a namespace with no recorded series: the raw families are asked for, and answered
        elsewhere = await PrometheusSensor(rt.url).collect(
            SensorRequest(now=now, namespaces=["nowhere"], lookback_seconds=900))
    assert elsewhere.run.error is None
    assert sum("sum " in q for q in elsewhere.run.queries) == len(RAW_SERVICE_SERIES) + len(
        RAW_POD_SERIES) + len(MESH_FAMILIES)
    assert result.run.status == "ok" and result.run.error is None
    names = {s.name for s in result.data.series}
    assert {"service:errors:ratio_rate1m", "pod:memory_working_set:ratio",
            "node:cpu_usage:ratio"} <= names
    assert {s.metric.get("namespace") for s in result.data.series if
            s.name.startswith(("service:", "pod:"))} == {"shop"}
    assert all(s.values for s in result.data.series)


def test_nginx_ingress_is_asked_for_by_its_backends_namespace_either_way() -> None:
    scoped = [q for name, q in build_raw_queries(SensorRequest(now=NOW, namespaces=["shop"]),
                                                 services=True, pods=False)
              if name == "nginx_ingress_controller_requests"]
    assert [q.rsplit("(", 1)[1] for q in scoped] == [
        'nginx_ingress_controller_requests{namespace="shop"})',
        'nginx_ingress_controller_requests{exported_namespace="shop"})']
    whole = [q for name, q in build_raw_queries(SensorRequest(now=NOW), services=True,
                                                pods=False)
             if name == "nginx_ingress_controller_requests"]
    assert len(whole) == 1 and whole[0].endswith("(nginx_ingress_controller_requests)")
