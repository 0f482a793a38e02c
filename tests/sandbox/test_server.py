"""The sandbox's HTTP server, over real HTTP: Kubernetes API, Prometheus API, faults, webhooks."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from warroom.config import Settings
from warroom.ingest.models import AlertmanagerWebhook
from warroom.sandbox.runtime import SandboxRuntime
from warroom.sandbox.sim import Sandbox

DEPLOY = "/apis/apps/v1/namespaces/shop/deployments/checkout"
SMP = {"Content-Type": "application/strategic-merge-patch+json"}


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[SandboxRuntime]:
    settings = Settings(home=tmp_path)
    async with SandboxRuntime(settings, webhook_url="", sandbox=Sandbox(seed=5),
                              clock=False) as running:
        yield running


@pytest.fixture
async def http(runtime: SandboxRuntime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=runtime.url) as client:
        yield client


async def test_runtime_writes_a_kubeconfig_for_its_port(runtime: SandboxRuntime) -> None:
    text = runtime.kubeconfig_path.read_text()
    assert runtime.kubeconfig_path.name == "sandbox-kubeconfig.yaml"
    assert f"http://127.0.0.1:{runtime.port}" in text and runtime.port > 0


async def test_lists_gets_and_selectors(http: httpx.AsyncClient) -> None:
    pods = (await http.get("/api/v1/namespaces/shop/pods",
                           params={"labelSelector": "app=checkout"})).json()
    assert pods["kind"] == "PodList" and len(pods["items"]) == 2
    node = pods["items"][0]["spec"]["nodeName"]
    on_node = (await http.get("/api/v1/pods",
                              params={"fieldSelector": f"spec.nodeName={node}"})).json()
    assert on_node["items"] and all(p["spec"]["nodeName"] == node for p in on_node["items"])
    deployment = (await http.get(DEPLOY)).json()
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    for path in ("/api/v1/nodes", "/apis/apps/v1/namespaces/shop/replicasets",
                 "/apis/apps/v1/statefulsets", "/api/v1/namespaces/shop/events",
                 "/api/v1/namespaces/shop/services", "/api/v1/persistentvolumeclaims",
                 "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers",
                 "/api/v1/namespaces"):
        answer = await http.get(path)
        assert answer.status_code == 200 and answer.json()["items"], path


async def test_errors_are_kubernetes_status_objects(http: httpx.AsyncClient) -> None:
    missing = await http.get("/apis/apps/v1/namespaces/shop/deployments/nope")
    assert missing.status_code == 404
    assert missing.json() | {"details": None} == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'deployments.apps "nope" not found', "reason": "NotFound",
        "details": None, "code": 404}
    stale = await http.patch(DEPLOY, headers=SMP, content=b'{"metadata": {"resourceVersion": '
                             b'"1"}, "spec": {"replicas": 3}}')
    assert stale.status_code == 409 and stale.json()["reason"] == "Conflict"
    assert "the object has been modified" in stale.json()["message"]
    invalid = await http.patch(DEPLOY + "/scale", content=b'{"spec": {"replicas": -1}}',
                               headers={"Content-Type": "application/merge-patch+json"})
    assert invalid.status_code == 422 and invalid.json()["reason"] == "Invalid"
    unknown = await http.patch(DEPLOY, content=b"{}", headers={"Content-Type": "text/plain"})
    assert unknown.status_code == 415


async def test_dry_run_changes_nothing(http: httpx.AsyncClient, runtime: SandboxRuntime) -> None:
    before = (await http.get(DEPLOY)).json()
    answer = await http.patch(DEPLOY + "/scale", params={"dryRun": "All"},
                              content=b'{"spec": {"replicas": 7}}',
                              headers={"Content-Type": "application/merge-patch+json"})
    assert answer.status_code == 200 and answer.json()["spec"]["replicas"] == 7
    pod = (await http.get("/api/v1/namespaces/shop/pods")).json()["items"][0]["metadata"]["name"]
    deleted = await http.delete(f"/api/v1/namespaces/shop/pods/{pod}", params={"dryRun": "All"})
    assert deleted.status_code == 200
    assert (await http.get(f"/api/v1/namespaces/shop/pods/{pod}")).status_code == 200
    assert (await http.get(DEPLOY)).json() == before


async def test_pod_logs_current_and_previous(http: httpx.AsyncClient,
                                             runtime: SandboxRuntime) -> None:
    runtime.inject("config_error")
    runtime.sandbox.advance(120)
    pods = (await http.get("/api/v1/namespaces/shop/pods",
                           params={"labelSelector": "app=payments"})).json()["items"]
    crashed = next(p for p in pods if p["status"]["containerStatuses"][0]["restartCount"])
    name = crashed["metadata"]["name"]
    previous = await http.get(f"/api/v1/namespaces/shop/pods/{name}/log",
                              params={"previous": "true", "container": "payments"})
    assert previous.status_code == 200 and "invalid configuration" in previous.text
    healthy = next(p for p in pods if not p["status"]["containerStatuses"][0]["restartCount"])
    none = await http.get(f"/api/v1/namespaces/shop/pods/{healthy['metadata']['name']}/log",
                          params={"previous": "true"})
    assert none.status_code == 400 and "previous terminated container" in none.json()["message"]


async def test_prometheus_query_api(http: httpx.AsyncClient, runtime: SandboxRuntime) -> None:
    end = runtime.sandbox.now.timestamp()
    answer = (await http.get("/api/v1/query_range", params={
        "query": 'service:errors:ratio_rate1m{namespace="shop",service="checkout"}',
        "start": str(end - 300), "end": str(end), "step": "1m"})).json()
    assert answer["status"] == "success" and answer["data"]["resultType"] == "matrix"
    [series] = answer["data"]["result"]
    assert series["metric"]["service"] == "checkout" and len(series["values"]) == 6
    assert isinstance(series["values"][0][1], str)
    instant = (await http.post("/api/v1/query", data={"query": "db:connections:ratio"})).json()
    assert instant["data"]["result"][0]["metric"]["service"] == "orders-db"
    bad = await http.get("/api/v1/query", params={"query": "rate(x[5m])"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
    text = (await http.get("/metrics")).text
    assert "# TYPE service:requests:rate1m gauge" in text
    assert 'service:requests:rate1m{namespace="shop",service="gateway"}' in text


async def test_fault_endpoints(http: httpx.AsyncClient) -> None:
    created = await http.post("/api/v1/sandbox/faults", json={"fault": "bad_deploy",
                                                              "service": "cart"})
    assert created.status_code == 201 and created.json()["target"] == "shop/deployment/cart"
    listed = (await http.get("/api/v1/sandbox/faults")).json()["faults"]
    assert [f["fault"] for f in listed] == ["bad_deploy"]
    refused = await http.post("/api/v1/sandbox/faults", json={"fault": "gremlins"})
    assert refused.status_code == 422 and "unknown fault" in refused.json()["detail"]


async def test_webhooks_fire_and_resolve_to_a_receiver(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []

    async def receive(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"accepted": 1})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/hook", receive,
                                                                   methods=["POST"])]),
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        settings = Settings(home=tmp_path)
        async with SandboxRuntime(settings, webhook_url=f"http://127.0.0.1:{port}/hook",
                                  sandbox=Sandbox(seed=5), clock=False) as running:
            fault = running.inject("certificate_expired")
            await running.advance(120)
            running.sandbox.clear(fault["id"])
            await running.advance(30)
    finally:
        server.should_exit = True
        await task
    assert received, "no webhook arrived"
    hooks = [AlertmanagerWebhook.model_validate(body) for body in received]
    firing = [a for h in hooks for a in h.alerts if a.status == "firing"]
    assert any(a.labels["service"] == "gateway" and a.labels["alertname"] == "HighErrorRate"
               for a in firing)
    assert all(len(a.fingerprint) == 16 for a in firing)
    resolved = {a.fingerprint for h in hooks for a in h.alerts if a.status == "resolved"}
    assert resolved and resolved <= {a.fingerprint for a in firing}
    assert any(h.status == "resolved" for h in hooks)
