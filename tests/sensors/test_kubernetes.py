"""The Kubernetes sensors against the sandbox's API server, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from warroom.config import Settings
from warroom.kube.client import KubeApi
from warroom.sandbox.runtime import SandboxRuntime
from warroom.sandbox.sim import Sandbox
from warroom.sensors.kubernetes import (
    KubernetesChangesSensor,
    KubernetesEventsSensor,
    KubernetesLogsSensor,
    KubernetesObjectsSensor,
    default_sensors,
    kubernetes_sensors,
)
from warroom.sensors.models import SensorRequest
from warroom.sensors.ports import Sensor


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[SandboxRuntime]:
    async with SandboxRuntime(Settings(home=tmp_path), webhook_url="", sandbox=Sandbox(seed=9),
                              clock=False) as running:
        yield running


@pytest.fixture
async def api(runtime: SandboxRuntime) -> AsyncIterator[KubeApi]:
    client = KubeApi(str(runtime.kubeconfig_path))
    yield client
    await client.close()


def request(runtime: SandboxRuntime, *services: str) -> SensorRequest:
    return SensorRequest(now=runtime.sandbox.now, namespaces=["shop"], services=list(services))


async def test_objects_are_the_api_servers_json(runtime: SandboxRuntime, api: KubeApi) -> None:
    result = await KubernetesObjectsSensor(api).collect(request(runtime, "checkout"))
    assert result.run.status == "ok" and result.run.sensor == "kubernetes"
    assert "GET /api/v1/namespaces/shop/pods" in result.run.queries
    assert "GET /apis/apps/v1/namespaces/shop/replicasets" in result.run.queries
    kinds = sorted({o["kind"] for o in result.data.objects})
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "Node", "Pod", "ReplicaSet",
                     "Service"] or "Deployment" in kinds
    pod = next(o for o in result.data.objects if o["kind"] == "Pod")
    assert pod["apiVersion"] == "v1" and pod["metadata"]["name"].startswith("checkout-")
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 0  # camelCase, raw JSON
    assert not [o for o in result.data.objects
                if o["kind"] == "Pod" and not o["metadata"]["name"].startswith("checkout-")]


async def test_events_logs_and_changes_show_an_oomkill(runtime: SandboxRuntime,
                                                       api: KubeApi) -> None:
    runtime.inject("memory_limit_too_low")
    runtime.sandbox.advance(120)
    events = await KubernetesEventsSensor(api).collect(request(runtime, "checkout"))
    assert {"BackOff", "Started"} <= {e["reason"] for e in events.data.objects}
    logs = await KubernetesLogsSensor(api).collect(request(runtime, "checkout"))
    previous = [s for s in logs.data.logs if s.previous]
    assert previous and any("heap in use" in line for line in previous[0].lines)
    assert any("previous=true" in q for q in logs.run.queries)


async def test_changes_come_from_replicaset_revisions(runtime: SandboxRuntime,
                                                      api: KubeApi) -> None:
    runtime.inject("bad_deploy")
    runtime.sandbox.advance(60)
    result = await KubernetesChangesSensor(api).collect(request(runtime, "checkout"))
    [change] = result.data.changes
    assert change.kind == "deploy" and change.target == "shop/deployment/checkout"
    assert "checkout:1.42.0 -> registry.shop.example/checkout:1.43.0" in change.description
    assert change.description.startswith("revision 2:")


async def test_an_unreachable_cluster_is_an_error_result(runtime: SandboxRuntime,
                                                         tmp_path: Path) -> None:
    config = runtime.kubeconfig_path.read_text().replace(str(runtime.port), "1")
    broken = tmp_path / "broken.yaml"
    broken.write_text(config)
    client = KubeApi(str(broken), timeout=2)
    try:
        result = await KubernetesObjectsSensor(client).collect(request(runtime))
    finally:
        await client.close()
    assert result.run.status == "error" and "GET /api/v1/namespaces/shop/pods" in result.run.error
    missing = KubeApi(str(tmp_path / "nope.yaml"))
    result = await KubernetesEventsSensor(missing).collect(request(runtime))
    assert result.run.status == "error" and "cannot load Kubernetes config" in result.run.error


async def test_factories(runtime: SandboxRuntime, tmp_path: Path) -> None:
    sensors = kubernetes_sensors(str(runtime.kubeconfig_path))
    assert [s.name for s in sensors] == ["kubernetes", "events", "logs", "changes"]
    assert all(isinstance(s, Sensor) for s in sensors)
    configured = default_sensors(Settings(home=tmp_path, kubeconfig=str(runtime.kubeconfig_path)))
    assert len(configured) == 4
    await sensors[0].api.close()
    await configured[0].api.close()  # type: ignore[attr-defined]


async def test_a_pod_uses_the_in_cluster_config_without_a_kubeconfig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert default_sensors(Settings(_env_file=None, home=tmp_path)) == []
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")  # what Kubernetes sets in a pod
    in_pod = default_sensors(Settings(_env_file=None, home=tmp_path))
    assert [s.name for s in in_pod] == ["kubernetes", "events", "logs", "changes"]
    await in_pod[0].api.close()  # type: ignore[attr-defined]
