"""The executor through `bench chaos`'s faulty Kubernetes API: retried where safe, never twice."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from warroom.agents.models import Action
from warroom.bench.faults import Fault, KubeFaultProxy, call_class
from warroom.config import Settings
from warroom.execute.kubernetes import KubernetesExecutor
from warroom.kube.client import KubeApi
from warroom.sandbox.runtime import SandboxRuntime, kubeconfig
from warroom.sandbox.sim import Sandbox

# a sandbox and a proxy per test, some waiting out timeouts: a few seconds each
pytestmark = pytest.mark.slow

UNDO = Action(type="rollout_undo", target="shop/deployment/checkout")


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[SandboxRuntime]:
    async with SandboxRuntime(Settings(home=tmp_path), webhook_url="", sandbox=Sandbox(seed=4),
                              clock=False) as running:
        running.inject("bad_deploy")
        running.sandbox.advance(60)
        yield running


@pytest.fixture
def faulty(runtime: SandboxRuntime, tmp_path: Path) -> Iterator[
        tuple[KubeFaultProxy, KubernetesExecutor]]:
    proxies: list[KubeFaultProxy] = []

    def make(**kwargs: object) -> tuple[KubeFaultProxy, KubernetesExecutor]:
        proxy = KubeFaultProxy(runtime.url, hang=3.0, **kwargs)  # type: ignore[arg-type]
        proxies.append(proxy)
        path = tmp_path / f"kubeconfig-{len(proxies)}.json"
        path.write_text(json.dumps(kubeconfig(proxy.url)))
        return proxy, KubernetesExecutor(KubeApi(str(path), timeout=0.5, retries=3))

    yield make  # type: ignore[misc]
    for proxy in proxies:
        proxy.close()


def image(runtime: SandboxRuntime) -> str:
    deployment = runtime.sandbox.store.get("Deployment", "checkout", "shop")
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def test_calls_are_classed_as_the_retry_policy_sees_them() -> None:
    assert call_class("GET", "") == "read"
    assert call_class("PATCH", "dryRun=All") == "dry-run"
    assert call_class("PATCH", "") == "write"


@pytest.mark.parametrize("fault", ["500-before", "500-after", "timeout-after", "drop-before",
                                   "drop-after"])
async def test_reads_and_dry_runs_are_retried_and_the_action_runs_once(
        runtime: SandboxRuntime, faulty, fault: Fault) -> None:  # type: ignore[no-untyped-def]
    proxy, executor = faulty(rates={"read": 1.0, "dry-run": 1.0}, faults=(fault,), limit=2)
    assert (await executor.dry_run(UNDO)).status == "dry_run_ok"
    outcome = await executor.execute(UNDO)
    await executor.close()
    assert outcome.status == "succeeded", outcome.error
    assert proxy.log.injected == {f"{fault} read": 2, f"{fault} dry-run": 2}
    assert list(proxy.log.writes.values()) == [1]  # the real PATCH reached the server once
    assert image(runtime).endswith(":1.42.0")


@pytest.mark.parametrize(("fault", "says"), [
    ("500-after", "answered 500 InternalError"),
    ("timeout-after", "timed out after it was sent"),
    ("drop-after", "lost its connection after it was sent"),
])
async def test_a_write_that_may_have_landed_fails_with_the_reason_and_is_not_resent(
        faulty, fault: Fault, says: str) -> None:  # type: ignore[no-untyped-def]
    proxy, executor = faulty(rates={"write": 1.0}, faults=(fault,))
    outcome = await executor.execute(UNDO)
    await executor.close()
    assert outcome.status == "failed"
    assert outcome.error is not None and says in outcome.error
    assert "not sent again" in outcome.error
    assert list(proxy.log.writes.values()) == [1]  # applied once, never twice


async def test_a_conflict_is_final_and_carries_the_api_servers_message(
        runtime: SandboxRuntime, faulty) -> None:  # type: ignore[no-untyped-def]
    proxy, executor = faulty(rates={"write": 1.0}, faults=("409",))
    outcome = await executor.execute(UNDO)
    await executor.close()
    assert outcome.status == "failed"
    assert outcome.error is not None and "409 Conflict" in outcome.error
    assert "the object was modified" in outcome.error
    assert not proxy.log.writes and image(runtime).endswith(":1.43.0")
