"""The Kubernetes executor against the sandbox's API server, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from warroom.agents.models import Action
from warroom.config import Settings
from warroom.execute.kubernetes import KubernetesExecutor
from warroom.execute.ports import Executor
from warroom.sandbox.runtime import SandboxRuntime
from warroom.sandbox.sim import Sandbox

UNDO = Action(type="rollout_undo", target="shop/deployment/checkout")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[SandboxRuntime]:
    async with SandboxRuntime(Settings(home=tmp_path), webhook_url="", sandbox=Sandbox(seed=4),
                              clock=False) as running:
        yield running


@pytest.fixture
async def executor(runtime: SandboxRuntime) -> AsyncIterator[KubernetesExecutor]:
    built = KubernetesExecutor(str(runtime.kubeconfig_path))
    yield built
    await built.close()


def image(runtime: SandboxRuntime) -> str:
    deployment = runtime.sandbox.store.get("Deployment", "checkout", "shop")
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_rollout_undo_fixes_a_bad_deploy(runtime: SandboxRuntime,
                                               executor: KubernetesExecutor) -> None:
    port: Executor = executor  # it implements the port
    assert port.name == "kubernetes"
    runtime.inject("bad_deploy")
    runtime.sandbox.advance(120)
    assert runtime.sandbox.traffic.views["checkout"].errors > 0.2
    outcome = await executor.execute(UNDO)
    assert outcome.status == "succeeded", outcome.error
    assert outcome.calls[0].content_type == "application/json-patch+json"
    assert outcome.pre_state and any(o["kind"] == "ReplicaSet"
                                     for o in outcome.pre_state["objects"])
    assert image(runtime).endswith(":1.42.0")
    runtime.sandbox.advance(120)
    assert runtime.sandbox.traffic.views["checkout"].errors < 0.01


async def test_dry_run_changes_nothing(runtime: SandboxRuntime,
                                       executor: KubernetesExecutor) -> None:
    runtime.inject("bad_deploy")
    runtime.sandbox.advance(30)
    version = runtime.sandbox.store.get("Deployment", "checkout", "shop")["metadata"][  # type: ignore[index]
        "resourceVersion"]
    pods = {p["metadata"]["name"] for p in runtime.sandbox.store.list("Pod", "shop")}
    for action in (UNDO, Action(type="scale", target="shop/deployment/checkout",
                                params={"replicas": 4}),
                   Action(type="drain_node", target="/node/worker-1"),
                   Action(type="delete_pod", target=f"shop/pod/{sorted(pods)[0]}")):
        outcome = await executor.dry_run(action)
        assert outcome.status in ("dry_run_ok", "refused"), (action, outcome.error)
    assert image(runtime).endswith(":1.43.0")
    assert runtime.sandbox.store.get("Deployment", "checkout", "shop")["metadata"][  # type: ignore[index]
        "resourceVersion"] == version
    assert {p["metadata"]["name"] for p in runtime.sandbox.store.list("Pod", "shop")} == pods


async def test_a_missing_object_fails_cleanly_with_the_apis_message(
        executor: KubernetesExecutor) -> None:
    outcome = await executor.execute(Action(type="rollout_restart",
                                            target="shop/deployment/nope"))
    assert outcome.status == "failed"
    assert outcome.error and 'deployments.apps "nope" not found' in outcome.error
    gone = await executor.execute(Action(type="delete_pod", target="shop/pod/ghost-7d9f8-x2k4p"))
    assert gone.status == "failed" and 'pods "ghost-7d9f8-x2k4p" not found' in (gone.error or "")


async def test_a_conflicting_change_fails_cleanly_with_409(
        runtime: SandboxRuntime, executor: KubernetesExecutor) -> None:
    action = Action(type="set_resources", target="shop/deployment/checkout",
                    params={"container": "checkout", "limits": {"memory": "768Mi"}})
    approved_state = await executor.capture_state(action)
    runtime.inject("bad_deploy")  # someone else changes the deployment after approval
    outcome = await executor.execute(action, expected_state=approved_state)
    assert outcome.status == "failed"
    assert outcome.error and "409 Conflict" in outcome.error
    assert "the object has been modified" in outcome.error
    limits = runtime.sandbox.store.get("Deployment", "checkout", "shop")["spec"]["template"][  # type: ignore[index]
        "spec"]["containers"][0]["resources"]["limits"]
    assert limits["memory"] == "512Mi"


async def test_drain_evicts_the_pods_of_a_failed_node(runtime: SandboxRuntime,
                                                      executor: KubernetesExecutor) -> None:
    runtime.inject("node_failure")
    runtime.sandbox.advance(60)
    outcome = await executor.execute(Action(type="drain_node", target="/node/worker-2"))
    assert outcome.status == "succeeded", outcome.error
    assert [c.method for c in outcome.calls][0] == "PATCH"
    assert {c.method for c in outcome.calls[1:]} == {"POST"}
    assert not [p for p in runtime.sandbox.store.list("Pod")
                if p["spec"].get("nodeName") == "worker-2"]


async def test_hard_rules_are_rechecked(executor: KubernetesExecutor) -> None:
    outcome = await executor.execute(Action(type="scale", target="data/statefulset/orders-db",
                                            params={"replicas": 3}))
    assert outcome.status == "refused" and outcome.calls == []


async def test_escalate_makes_no_call(executor: KubernetesExecutor) -> None:
    outcome = await executor.execute(Action(type="escalate", params={"reason": "x"}))
    assert outcome.status == "succeeded" and outcome.calls == []
