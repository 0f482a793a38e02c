from __future__ import annotations

from typing import Any

from warroom.agents.models import Action
from warroom.sandbox.sim import Sandbox


def pods(sandbox: Sandbox, app: str) -> list[dict[str, Any]]:
    return [p for p in sandbox.store.list("Pod") if p["metadata"]["labels"].get("app") == app]


def errors(sandbox: Sandbox, service: str) -> float:
    return sandbox.traffic.views[service].errors


def alerting(sandbox: Sandbox, name: str, service: str) -> bool:
    return any(a["labels"]["alertname"] == name and a["labels"].get("service") == service
               for a in sandbox.firing())


def ok(answers: list[tuple[int, Any]]) -> None:
    assert answers and all(code in (200, 201) for code, _ in answers), answers


def memory(sandbox: Sandbox, app: str) -> list[float]:
    live = {p["metadata"]["name"] for p in pods(sandbox, app)}
    return [s[-1][1] for labels, s in sandbox.series.select(
        f'pod:memory_working_set:ratio{{container="{app}"}}') if labels["pod"] in live]


def crash_looping(sandbox: Sandbox, app: str) -> int:
    return sum(1 for p in pods(sandbox, app)
               if p["status"].get("containerStatuses", [{}])[0].get("restartCount", 0) >= 1
               and not p["status"]["containerStatuses"][0]["ready"])


def test_rollout_restart_clears_a_leak_for_a_while(sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("memory_leak", severity=1.0)
    sandbox.advance(540)
    assert alerting(sandbox, "ContainerMemoryNearLimit", "checkout")
    ok(client.act(Action(type="rollout_restart", target="shop/deployment/checkout")))
    sandbox.advance(90)
    ratios = memory(sandbox, "checkout")
    assert len(ratios) == 2 and max(ratios) < 0.75
    assert not alerting(sandbox, "ContainerMemoryNearLimit", "checkout")
    sandbox.advance(420)  # the leak is still in the code: it comes back
    ratios = memory(sandbox, "checkout")
    assert max(ratios) > 0.85


def test_rollout_undo_returns_to_the_healthy_revision(sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("bad_deploy")
    sandbox.advance(120)
    assert errors(sandbox, "checkout") > 0.2
    ok(client.act(Action(type="rollout_undo", target="shop/deployment/checkout")))
    sandbox.advance(120)
    images = {p["spec"]["containers"][0]["image"] for p in pods(sandbox, "checkout")}
    assert images == {"registry.shop.example/checkout:1.42.0"}
    deployment = sandbox.store.get("Deployment", "checkout", "shop")
    assert deployment is not None
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    # as in Kubernetes, the re-adopted ReplicaSet remembers the number it had
    adopted = [rs["metadata"]["annotations"] for rs in sandbox.store.owned_by(
        "ReplicaSet", deployment) if rs["metadata"]["annotations"][
        "deployment.kubernetes.io/revision"] == "3"]
    assert adopted == [{**adopted[0], "deployment.kubernetes.io/revision-history": "1"}]
    assert errors(sandbox, "checkout") < 0.01
    sandbox.advance(30)
    assert not alerting(sandbox, "HighErrorRate", "checkout")
    resolved = [a for p in sandbox.alerts.history for a in p["alerts"]
                if a["status"] == "resolved" and a["labels"].get("service") == "checkout"]
    assert resolved


def test_scale_adds_capacity_after_a_startup_delay(sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("cpu_saturation", severity=1.0)
    sandbox.advance(120)
    assert errors(sandbox, "search") > 0.05
    ok(client.act(Action(type="scale", target="shop/deployment/search",
                         params={"replicas": 8})))
    assert len(pods(sandbox, "search")) == 8
    assert sandbox.traffic.views["search"].serving == 2  # the new pods are still starting
    sandbox.advance(60)
    assert sandbox.traffic.views["search"].serving == 8
    assert errors(sandbox, "search") < 0.01


def test_set_resources_rolls_pods_with_new_limits(sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("memory_limit_too_low")
    sandbox.advance(120)
    assert errors(sandbox, "checkout") > 0.5
    ok(client.act(Action(type="set_resources", target="shop/deployment/checkout",
                         params={"container": "checkout", "limits": {"memory": "768Mi"}})))
    sandbox.advance(120)
    limits = {p["spec"]["containers"][0]["resources"]["limits"]["memory"]
              for p in pods(sandbox, "checkout")}
    assert limits == {"768Mi"}
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0
               for p in pods(sandbox, "checkout"))
    assert errors(sandbox, "checkout") < 0.01


def test_delete_pod_is_replaced_by_its_replicaset(sandbox: Sandbox, client: Any) -> None:
    victim = pods(sandbox, "cart")[0]["metadata"]["name"]
    ok(client.act(Action(type="delete_pod", target=f"shop/pod/{victim}")))
    names = [p["metadata"]["name"] for p in pods(sandbox, "cart")]
    assert victim not in names and len(names) == 2


def test_cordon_keeps_new_pods_off_the_node(sandbox: Sandbox, client: Any) -> None:
    before = {p["metadata"]["name"] for p in pods(sandbox, "cart")}
    ok(client.act(Action(type="cordon_node", target="/node/worker-1")))
    node = sandbox.store.get("Node", "worker-1")
    assert node is not None and node["spec"]["unschedulable"] is True
    ok(client.act(Action(type="scale", target="shop/deployment/cart", params={"replicas": 6})))
    sandbox.advance(30)
    new = [p for p in pods(sandbox, "cart") if p["metadata"]["name"] not in before]
    assert len(new) == 4 and all(p["spec"]["nodeName"] != "worker-1" for p in new)


def test_drain_moves_pods_off_a_failed_node(sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("node_failure")
    sandbox.advance(60)
    assert errors(sandbox, "orders") > 0.05
    answers = client.act(Action(type="drain_node", target="/node/worker-2"))
    ok(answers)
    assert answers[0][1]["spec"]["unschedulable"] is True
    assert not [p for p in sandbox.store.list("Pod") if p["spec"].get("nodeName") == "worker-2"]
    sandbox.advance(60)  # well before the 300 s toleration would have evicted them
    assert errors(sandbox, "orders") < 0.01
    assert all(p["status"]["phase"] == "Running" for p in sandbox.store.list("Pod"))


def test_set_hpa_lets_the_autoscaler_absorb_a_surge(sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("traffic_surge")
    sandbox.advance(120)
    assert errors(sandbox, "catalog") > 0.05
    ok(client.act(Action(type="set_hpa", target="shop/deployment/catalog",
                         params={"max_replicas": 12})))
    sandbox.advance(180)
    deployment = sandbox.store.get("Deployment", "catalog", "shop")
    assert deployment is not None and deployment["spec"]["replicas"] > 4
    assert errors(sandbox, "catalog") < 0.01


def test_restarting_a_caller_of_a_saturated_database_changes_nothing(
        sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("database_saturation")
    sandbox.advance(120)
    before = errors(sandbox, "orders")
    ok(client.act(Action(type="rollout_restart", target="shop/deployment/orders")))
    sandbox.advance(120)
    assert errors(sandbox, "orders") > 0.5 * before > 0.02
    assert alerting(sandbox, "DatabaseConnectionsSaturated", "orders-db")


def test_scaling_a_crash_looping_service_adds_crashing_pods(
        sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("config_error")
    sandbox.advance(120)
    before = crash_looping(sandbox, "payments")
    ok(client.act(Action(type="scale", target="shop/deployment/payments",
                         params={"replicas": 5})))
    sandbox.advance(120)
    assert crash_looping(sandbox, "payments") > before >= 1
    assert alerting(sandbox, "KubePodCrashLooping", "payments")


def test_restarting_a_bad_deploy_restarts_the_bad_code(sandbox: Sandbox, client: Any) -> None:
    sandbox.inject("bad_deploy")
    sandbox.advance(120)
    ok(client.act(Action(type="rollout_restart", target="shop/deployment/checkout")))
    sandbox.advance(120)
    assert errors(sandbox, "checkout") > 0.2
    assert alerting(sandbox, "HighErrorRate", "checkout")
