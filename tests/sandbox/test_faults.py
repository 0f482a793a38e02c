from __future__ import annotations

from typing import Any

import pytest

from warroom.agents.models import FAULTS
from warroom.sandbox.faults import DEFAULT_TARGETS, FaultError
from warroom.sandbox.sim import Sandbox


def pods(sandbox: Sandbox, app: str) -> list[dict[str, Any]]:
    return [p for p in sandbox.store.list("Pod") if p["metadata"]["labels"].get("app") == app]


def firing(sandbox: Sandbox) -> set[tuple[str, str]]:
    return {(a["labels"]["alertname"], a["labels"].get("service") or a["labels"].get("node", ""))
            for a in sandbox.firing()}


def latest(sandbox: Sandbox, query: str) -> list[float]:
    return [samples[-1][1] for _, samples in sandbox.series.select(query)]


def event_reasons(sandbox: Sandbox, prefix: str) -> dict[str, str]:
    return {e["reason"]: e["message"] for e in sandbox.store.list("Event")
            if e["involvedObject"]["name"].startswith(prefix)}


def revisions(sandbox: Sandbox, app: str) -> list[int]:
    return sorted(int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                  for rs in sandbox.store.list("ReplicaSet", "shop")
                  if rs["metadata"]["labels"].get("app") == app)


def test_a_healthy_shop_fires_nothing(sandbox: Sandbox) -> None:
    sandbox.advance(600)
    assert sandbox.firing() == []
    assert len(sandbox.store.list("Pod")) >= 20
    assert all(p["status"]["phase"] == "Running" for p in sandbox.store.list("Pod"))
    assert max(latest(sandbox, "service:errors:ratio_rate1m")) < 0.01


def test_memory_leak_ramps_then_oomkills(sandbox: Sandbox) -> None:
    sandbox.inject("memory_leak", severity=1.0)
    sandbox.advance(120)
    early = max(latest(sandbox, 'pod:memory_working_set:ratio{container="checkout"}'))
    sandbox.advance(420)
    later = max(latest(sandbox, 'pod:memory_working_set:ratio{container="checkout"}'))
    assert early < later and later > 0.9
    assert ("ContainerMemoryNearLimit", "checkout") in firing(sandbox)
    sandbox.advance(300)
    last = [p["status"]["containerStatuses"][0]["lastState"] for p in pods(sandbox, "checkout")]
    assert any(s.get("terminated", {}).get("reason") == "OOMKilled" for s in last)
    assert any(s.get("terminated", {}).get("exitCode") == 137 for s in last)
    assert revisions(sandbox, "checkout") == [1]  # nothing was deployed


def test_memory_limit_too_low_oomkills_at_once(sandbox: Sandbox) -> None:
    sandbox.inject("memory_limit_too_low")
    sandbox.advance(120)
    statuses = [p["status"]["containerStatuses"][0] for p in pods(sandbox, "checkout")]
    assert all(s["restartCount"] >= 2 for s in statuses)
    assert all(s["lastState"]["terminated"]["reason"] == "OOMKilled" for s in statuses)
    assert {("KubePodCrashLooping", "checkout"), ("HighErrorRate", "checkout")} <= firing(sandbox)


def test_cpu_saturation_throttles_and_slows(sandbox: Sandbox) -> None:
    sandbox.inject("cpu_saturation")
    sandbox.advance(120)
    assert min(latest(sandbox, 'pod:cpu_usage:ratio{container="search"}')) > 0.95
    assert {("CPUThrottlingHigh", "search"), ("HighLatencyP99", "frontend")} <= firing(sandbox)
    assert all(p["status"]["containerStatuses"][0]["restartCount"] == 0
               for p in pods(sandbox, "search"))


def test_traffic_surge_maxes_the_hpa(sandbox: Sandbox) -> None:
    before = latest(sandbox, 'service:requests:rate1m{service="catalog"}')[0]
    sandbox.inject("traffic_surge")
    sandbox.advance(180)
    assert latest(sandbox, 'service:requests:rate1m{service="catalog"}')[0] > 3 * before
    hpa = sandbox.store.get("HorizontalPodAutoscaler", "catalog", "shop")
    assert hpa is not None and hpa["status"]["currentReplicas"] == hpa["spec"]["maxReplicas"]
    assert ("KubeHpaMaxedOut", "catalog") in firing(sandbox)
    assert "SuccessfulRescale" in event_reasons(sandbox, "catalog")


def test_bad_deploy_rolls_out_a_throwing_revision(sandbox: Sandbox) -> None:
    sandbox.inject("bad_deploy")
    sandbox.advance(120)
    assert revisions(sandbox, "checkout") == [1, 2]
    images = {p["spec"]["containers"][0]["image"] for p in pods(sandbox, "checkout")}
    assert images == {"registry.shop.example/checkout:1.43.0"}
    assert ("HighErrorRate", "checkout") in firing(sandbox)
    logs = sandbox.pod_logs("shop", pods(sandbox, "checkout")[0]["metadata"]["name"],
                            previous=False)
    assert logs and any("unhandled exception" in line for line in logs)
    assert sandbox.changes[-1]["target"] == "shop/deployment/checkout"


def test_application_error_without_a_deploy(sandbox: Sandbox) -> None:
    sandbox.inject("application_error")
    sandbox.advance(120)
    assert ("HighErrorRate", "cart") in firing(sandbox)
    assert revisions(sandbox, "cart") == [1]


def test_config_error_crash_loops_the_new_revision(sandbox: Sandbox) -> None:
    sandbox.inject("config_error")
    sandbox.advance(120)
    assert revisions(sandbox, "payments") == [1, 2]
    crashing = [p for p in pods(sandbox, "payments")
                if p["status"]["containerStatuses"][0]["restartCount"] >= 2]
    assert crashing
    previous = sandbox.pod_logs("shop", crashing[0]["metadata"]["name"], previous=True)
    assert previous and any("invalid configuration" in line for line in previous)
    assert crashing[0]["status"]["containerStatuses"][0]["lastState"]["terminated"][
        "exitCode"] == 1
    assert ("KubePodCrashLooping", "payments") in firing(sandbox)
    ready_old = [p for p in pods(sandbox, "payments")
                 if p["status"]["containerStatuses"][0]["ready"]]
    assert ready_old  # the rolling update keeps the old pods serving


def test_image_pull_error_waits_with_pull_errors(sandbox: Sandbox) -> None:
    sandbox.inject("image_pull_error")
    sandbox.advance(90)
    assert revisions(sandbox, "orders") == [1, 2]
    waiting = {p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
               for p in pods(sandbox, "orders")}
    assert waiting & {"ErrImagePull", "ImagePullBackOff"}
    messages = [e["message"] for e in sandbox.store.list("Event") if e["reason"] == "Failed"]
    assert any("not found" in m for m in messages)
    assert ("KubeContainerWaiting", "orders") in firing(sandbox)


def test_probe_failure_restarts_on_liveness(sandbox: Sandbox) -> None:
    sandbox.inject("probe_failure")
    sandbox.advance(120)
    reasons = event_reasons(sandbox, "cart")
    assert "Liveness probe failed" in reasons["Unhealthy"] or "probe failed" in reasons[
        "Unhealthy"]
    assert "failed liveness probe" in reasons["Killing"]
    assert ("KubePodCrashLooping", "cart") in firing(sandbox)


def test_external_dependency_fails_payments_and_its_callers(sandbox: Sandbox) -> None:
    sandbox.inject("external_dependency")
    sandbox.advance(120)
    assert {("HighErrorRate", "payments"), ("HighErrorRate", "checkout")} <= firing(sandbox)
    pod = pods(sandbox, "payments")[0]["metadata"]["name"]
    assert any("api.paymentprovider.example" in line
               for line in sandbox.pod_logs("shop", pod, previous=False) or [])


def test_network_latency_adds_up_along_callers(sandbox: Sandbox) -> None:
    before = latest(sandbox, 'service:latency_seconds:p99_1m{service="checkout"}')[0]
    sandbox.inject("network_latency")
    sandbox.advance(120)
    assert latest(sandbox, "pod:network_latency_seconds:p99_1m")
    assert latest(sandbox, 'service:latency_seconds:p99_1m{service="checkout"}')[0] > before + 0.5
    assert ("HighLatencyP99", "orders") in firing(sandbox)


def test_dns_failure_breaks_cross_namespace_calls(sandbox: Sandbox) -> None:
    sandbox.inject("dns_failure")
    sandbox.advance(120)
    assert latest(sandbox, 'coredns_dns_responses:rate1m{rcode="SERVFAIL"}')[0] > 100
    assert {("CoreDNSErrorsHigh", "coredns"), ("HighErrorRate", "orders")} <= firing(sandbox)
    pod = pods(sandbox, "orders")[0]["metadata"]["name"]
    assert any("server misbehaving" in line
               for line in sandbox.pod_logs("shop", pod, previous=False) or [])


def test_database_saturation_times_out_callers(sandbox: Sandbox) -> None:
    sandbox.inject("database_saturation")
    sandbox.advance(120)
    assert latest(sandbox, "db:connections:ratio")[0] > 0.9
    assert {("DatabaseConnectionsSaturated", "orders-db"), ("HighErrorRate", "orders")} <= \
        firing(sandbox)


def test_disk_pressure_fills_the_volume(sandbox: Sandbox) -> None:
    sandbox.inject("disk_pressure", severity=1.0)
    sandbox.advance(300)
    assert latest(sandbox, "pvc:usage:ratio")[0] > 0.98
    alerts = {a["labels"]["alertname"]: a for a in sandbox.firing()}
    assert alerts["KubePersistentVolumeFillingUp"]["labels"]["persistentvolumeclaim"] == \
        "data-orders-db-0"
    logs = sandbox.pod_logs("data", "orders-db-0", previous=False) or []
    assert any("No space left on device" in line for line in logs)


def test_node_failure_marks_pods_unknown_then_evicts(sandbox: Sandbox) -> None:
    on_node = [p["metadata"]["name"] for p in sandbox.store.list("Pod")
               if p["spec"]["nodeName"] == "worker-2"]
    sandbox.inject("node_failure")
    sandbox.advance(60)
    node = sandbox.store.get("Node", "worker-2")
    assert node is not None
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "Unknown"
    phases = {sandbox.store.get("Pod", name, p_ns)["status"]["phase"]  # type: ignore[index]
              for p_ns in ("shop", "data", "kube-system") for name in on_node
              if sandbox.store.get("Pod", name, p_ns)}
    assert phases == {"Unknown"}
    assert ("KubeNodeNotReady", "worker-2") in firing(sandbox)
    sandbox.advance(300)  # the toleration passes: pods are evicted and rescheduled elsewhere
    assert not [p for p in sandbox.store.list("Pod") if p["spec"].get("nodeName") == "worker-2"]


def test_unschedulable_leaves_pods_pending(sandbox: Sandbox) -> None:
    sandbox.inject("unschedulable")
    sandbox.advance(90)
    pending = [p for p in pods(sandbox, "search") if p["status"]["phase"] == "Pending"]
    assert pending
    message = pending[0]["status"]["conditions"][0]["message"]
    assert "didn't match Pod's node affinity/selector" in message
    assert "FailedScheduling" in event_reasons(sandbox, "search")
    assert ("KubePodNotReady", "search") in firing(sandbox)


def test_certificate_expired(sandbox: Sandbox) -> None:
    sandbox.inject("certificate_expired")
    sandbox.advance(90)
    assert latest(sandbox, "probe:ssl_expiry_seconds")[0] < 0
    assert {("SSLCertExpiringSoon", "gateway"), ("HighErrorRate", "gateway")} <= firing(sandbox)


def test_none_is_a_blip_that_resolves_itself(sandbox: Sandbox) -> None:
    sandbox.inject("none")
    sandbox.advance(105)
    assert sandbox.firing()
    sandbox.advance(300)
    assert sandbox.faults == [] and sandbox.firing() == []
    assert any(p["status"] == "resolved" for p in sandbox.alerts.history)


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_class_has_a_default_target_and_fires(fault: str) -> None:
    sandbox = Sandbox(seed=3)
    injected = sandbox.inject(fault)
    assert (injected.namespace, injected.service) == DEFAULT_TARGETS[fault]
    fired = False
    for _ in range(60):
        sandbox.tick()
        fired = fired or bool(sandbox.firing())
        if fired:
            break
    assert fired, f"{fault} never fired an alert"


def test_faults_with_bad_targets_are_refused(sandbox: Sandbox) -> None:
    with pytest.raises(FaultError, match="unknown fault"):
        sandbox.inject("gremlins")
    with pytest.raises(FaultError, match="unknown service"):
        sandbox.inject("bad_deploy", service="nope")
    with pytest.raises(FaultError, match="lives in namespace"):
        sandbox.inject("bad_deploy", service="checkout", namespace="data")
    with pytest.raises(FaultError, match="StatefulSet"):
        sandbox.inject("bad_deploy", service="orders-db")
    with pytest.raises(FaultError, match="severity"):
        sandbox.inject("memory_leak", severity=2)
