"""The cluster's state read from kube-state-metrics gauges, with no API object in the evidence."""

from __future__ import annotations

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.kubestate import kube_state_findings, rollouts_from_generations
from warroom.agents.models import DiagnosisReport
from warroom.sensors.models import Series

from .diag_builders import alert, change, flat, series, snapshot, stepped

POD = "cart-7f9dd8b6c4-x2bnp"


def top(report: DiagnosisReport) -> tuple[str, str, str]:
    h = report.hypotheses[0]
    return (h.namespace, h.service, h.fault)


def diagnose(*state: Series, errors: float = 0.004) -> DiagnosisReport:
    """Diagnose a checkout calling cart, the alert on checkout, with cart's state gauges."""
    golden = [series("service:errors:ratio_rate1m", stepped(0.004, errors), namespace="shop",
                     service="cart"),
              series("service:errors:ratio_rate1m", flat(0.004), namespace="shop",
                     service="checkout"),
              series("service:latency_seconds:p99_1m", stepped(0.3, 0.6), namespace="shop",
                     service="checkout")]
    return diagnose_snapshot(snapshot(series=[*golden, *state],
                                      topology=[("checkout", "cart")],
                                      alerts=[alert({"alertname": "HighLatencyP99",
                                                     "namespace": "shop",
                                                     "service": "checkout"})]))


def gauge(name: str, values: list[float], **labels: str) -> Series:
    return series(name, values, namespace="shop", pod=POD, **labels)


SET = [0.0] * 30 + [1.0] * 10


def test_a_container_waiting_on_its_image_is_an_image_pull_error() -> None:
    report = diagnose(gauge("kube_pod_container_status_waiting_reason", SET,
                            container="cart", reason="ImagePullBackOff"))
    assert top(report) == ("shop", "cart", "image_pull_error")
    # a reason that names no fault, or a gauge cleared by now, names nothing
    assert top(diagnose(gauge("kube_pod_container_status_waiting_reason", SET,
                              container="cart", reason="ContainerCreating")))[2] != \
        "image_pull_error"
    assert top(diagnose(gauge("kube_pod_container_status_waiting_reason", SET[::-1],
                              container="cart", reason="ErrImagePull")))[2] != \
        "image_pull_error"


def test_a_gauge_scraped_without_honour_labels_is_about_its_subject() -> None:
    # the scrape's target (kube-state-metrics' own pod and Service) keeps the plain labels
    scraped = series("kube_pod_container_status_waiting_reason", SET, exported_namespace="shop",
                     exported_pod=POD, container="cart", reason="ErrImagePull",
                     namespace="monitoring", pod="kube-state-metrics-6d4b9c7f8-qwz7k",
                     service="kube-state-metrics", job="kube-state-metrics",
                     instance="10.0.3.7:8080")
    assert top(diagnose(scraped)) == ("shop", "cart", "image_pull_error")


def test_a_pod_no_node_can_take_is_unschedulable() -> None:
    report = diagnose(gauge("kube_pod_status_scheduled", SET, condition="false"))
    assert top(report) == ("shop", "cart", "unschedulable")


def test_a_running_pod_that_stopped_being_ready_fails_its_probe() -> None:
    ready_false = gauge("kube_pod_status_ready", SET, condition="false")
    assert top(diagnose(ready_false, errors=0.08)) == ("shop", "cart", "probe_failure")
    # never ready in the whole window: an old state, not what changed now
    always = gauge("kube_pod_status_ready", [1.0] * 40, condition="false")
    assert top(diagnose(always, errors=0.08))[2] != "probe_failure"


def test_a_generation_bump_is_read_as_a_rollout_once() -> None:
    gen = series("kube_deployment_metadata_generation", [4.0] * 25 + [5.0] * 15,
                 namespace="shop", deployment="cart")
    ix = Index.build(snapshot(series=[gen]))
    [rollout] = rollouts_from_generations(ix, [])
    assert (rollout.kind, rollout.target) == ("deploy", "shop/deployment/cart")
    assert "generation 4 -> 5" in rollout.description
    # the feed already has it (within minutes): not read twice
    recorded = change("deploy", "shop/deployment/cart", 15, "image cart:1.4 -> 1.5")
    assert rollouts_from_generations(ix, [recorded]) == []


def findings(*state: Series) -> list[tuple[str, str, str, float]]:
    """Return (namespace, place, fault, weight) of every finding the gauges give."""
    ix = Index.build(snapshot(series=list(state)))
    return sorted((f.namespace, f.service, f.fault, round(f.weight, 3))
                  for f in kube_state_findings(ix))


def old(*state: Series) -> list[bool]:
    """Return whether each finding the gauges give is old trouble (`chronic`)."""
    return [f.chronic for f in kube_state_findings(Index.build(snapshot(series=list(state))))]


def test_a_state_that_held_since_the_window_began_is_old_trouble() -> None:
    waiting = {"container": "cart", "reason": "ImagePullBackOff"}
    assert findings(gauge("kube_pod_container_status_waiting_reason", SET, **waiting)) == [
        ("shop", "cart", "image_pull_error", 0.65)]
    assert old(gauge("kube_pod_container_status_waiting_reason", SET, **waiting)) == [False]
    assert old(gauge("kube_pod_container_status_waiting_reason", [1.0] * 40,
                     **waiting)) == [True]


def test_a_node_condition_set_now_names_the_node() -> None:
    def condition(kind: str, status: str, values: list[float]) -> Series:
        return series("kube_node_status_condition", values, node="node-7", condition=kind,
                      status=status)

    assert findings(condition("Ready", "false", SET)) == [("", "node-7", "node_failure", 0.75)]
    assert findings(condition("DiskPressure", "true", SET)) == [
        ("", "node-7", "disk_pressure", 0.6)]
    # a healthy node's gauges, or a pressure that has cleared, name nothing
    assert findings(condition("Ready", "true", [1.0] * 40),
                    condition("DiskPressure", "true", SET[::-1])) == []


def test_a_pod_on_a_sick_node_is_not_failing_its_own_probe() -> None:
    ready_false = gauge("kube_pod_status_ready", SET, condition="false")
    on_node = gauge("kube_pod_info", [1.0] * 40, node="node-7")
    sick = series("kube_node_status_condition", SET, node="node-7", condition="Ready",
                  status="unknown")
    assert ("shop", "cart", "probe_failure", 0.4) in findings(ready_false, on_node)
    assert [f[2] for f in findings(ready_false, on_node, sick)] == ["node_failure"]


def test_restarts_the_kubelet_forced_keep_a_probe_failure_and_a_crash_does_not() -> None:
    ready_false = gauge("kube_pod_status_ready", SET, condition="false")
    restarts = gauge("kube_pod_container_status_restarts_total", [0.0] * 30 + [3.0] * 10,
                     container="cart")

    def exit_code(code: float) -> Series:
        return gauge("kube_pod_container_status_last_terminated_exitcode", [code] * 40,
                     container="cart")

    assert [f[2] for f in findings(ready_false, restarts, exit_code(137))] == ["probe_failure"]
    assert findings(ready_false, restarts, exit_code(1)) == []


def test_oom_kills_while_restarting_are_a_memory_fault_not_a_crash() -> None:
    oom = gauge("kube_pod_container_status_last_terminated_reason", SET, container="cart",
                reason="OOMKilled")
    restarts = gauge("kube_pod_container_status_restarts_total", [0.0] * 30 + [4.0] * 10,
                     container="cart")
    looping = gauge("kube_pod_container_status_waiting_reason", SET, container="cart",
                    reason="CrashLoopBackOff")
    waiting = gauge("kube_pod_container_status_waiting", SET, container="cart")
    assert findings(oom, restarts, looping, waiting) == [
        ("shop", "cart", "memory_leak", 0.3), ("shop", "cart", "memory_limit_too_low", 0.45)]
    # a crash loop with no OOM kill: the code exits by itself (a symptom others share)
    assert findings(looping, restarts, waiting) == [("shop", "cart", "application_error", 0.3)]


def test_a_pod_pending_with_no_node_for_minutes_is_unschedulable() -> None:
    window = series("kube_node_info", [1.0] * 40, node="node-7")  # the window began earlier
    pending = gauge("kube_pod_status_phase", [1.0] * 10, phase="Pending")
    assert findings(window, pending) == [("shop", "cart", "unschedulable", 0.35)]
    # placed on a node (it pulls or starts its containers), or Pending only a moment: nothing
    assert findings(window, pending, gauge("kube_pod_info", [1.0] * 10, node="node-7")) == []
    assert findings(window, gauge("kube_pod_status_phase", [1.0] * 3, phase="Pending")) == []


def test_a_deployment_short_of_replicas_with_every_pod_healthy_could_not_create_them() -> None:
    window = series("kube_node_info", [1.0] * 40, node="node-7")
    want = series("kube_deployment_spec_replicas", [5.0] * 40, namespace="shop",
                  deployment="cart")
    available = series("kube_deployment_status_replicas_available", [5.0] * 30 + [3.0] * 10,
                       namespace="shop", deployment="cart")
    assert findings(window, want, available) == [("shop", "cart", "unschedulable", 0.35)]
    assert old(window, want, available) == [False]
    # short all along: old trouble
    always = series("kube_deployment_status_replicas_available", [3.0] * 40,
                    namespace="shop", deployment="cart")
    assert old(window, want, always) == [True]
    # a pod of it is not ready (the pod rules judge it), or short only a moment: nothing more
    unready = gauge("kube_pod_status_ready", [0.0] * 30 + [1.0] * 10, condition="false")
    assert [f[2] for f in findings(window, want, available, unready)] == ["probe_failure"]
    blip = series("kube_deployment_status_replicas_available", [5.0] * 37 + [3.0] * 3,
                  namespace="shop", deployment="cart")
    assert findings(window, want, blip) == []


def test_a_pods_workload_is_read_from_the_owner_series() -> None:
    pod_owner = series("kube_pod_owner", [1.0] * 5, namespace="shop", pod="cart-canary-001",
                       owner_kind="ReplicaSet", owner_name="cart-canary")
    rs_owner = series("kube_replicaset_owner", [1.0] * 5, namespace="shop",
                      replicaset="cart-canary", owner_kind="Deployment", owner_name="cart")
    assert Index.build(snapshot(series=[pod_owner, rs_owner])).owner_of_pod(
        "shop", "cart-canary-001") == ("shop", "cart")
    # with no owner series, the name is all there is
    assert Index.build(snapshot(series=[])).owner_of_pod(
        "shop", "cart-canary-001") != ("shop", "cart")
