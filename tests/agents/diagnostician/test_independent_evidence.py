"""Reasoning that the sandbox's independent recordings showed missing from the Diagnostician.

Each case is hand-built evidence of a situation an SRE reads one way; each fails without the
rule it pins (OOM timing, young network series, liveness kills, where a false alarm sits).
"""

from __future__ import annotations

from datetime import timedelta

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.shortseries import young_series_findings
from warroom.agents.models import DiagnosisReport
from warroom.sensors.models import Series

from .diag_builders import (
    NOW,
    alert,
    change,
    deployment,
    event,
    flat,
    logs,
    pod,
    series,
    snapshot,
    statefulset,
    ts,
)


def top(report: DiagnosisReport) -> tuple[str, str, str]:
    h = report.hypotheses[0]
    return (h.namespace, h.service, h.fault)


def _oom_case(lived_minutes: float) -> DiagnosisReport:
    """Two pods OOMKilled twice, `lived_minutes` after their containers started, GC busy."""
    pods, streams = [], []
    for suffix in ("aaaaa", "bbbbb"):
        name = f"checkout-7f9dd8b6c4-{suffix}"
        pods.append(pod("shop", name, ("ReplicaSet", "checkout-7f9dd8b6c4"), restarts=2,
                        last={"reason": "OOMKilled", "exitCode": 137,
                              "startedAt": ts(1 + lived_minutes), "finishedAt": ts(1)}))
        streams.append(logs("shop", name, [
            "2026-03-01T11:59:00Z WARN heap in use 500Mi / 512Mi; GC overhead high"] * 3))
    return diagnose_snapshot(snapshot(
        objects=[*deployment("shop", "checkout"), *pods], logs=streams,
        alerts=[alert({"alertname": "KubeContainerOOMKilled", "namespace": "shop",
                       "pod": "checkout-7f9dd8b6c4-aaaaa", "service": "checkout"})]))


def test_an_oom_kill_soon_after_start_is_a_limit_too_low_not_a_leak() -> None:
    # killed 15 s after starting: the ordinary working set does not fit the limit
    assert top(_oom_case(0.25)) == ("shop", "checkout", "memory_limit_too_low")
    report = _oom_case(0.25)
    assert "after it started" in " ".join(report.hypotheses[0].evidence)
    # killed after three hours of uptime: the memory climbed over the pod's lifetime
    assert top(_oom_case(180)) == ("shop", "checkout", "memory_leak")


def _net_case(network: bool) -> DiagnosisReport:
    objects = [*deployment("shop", "checkout"), *deployment("shop", "orders", rs="5d8c7b9f6a"),
               pod("shop", "checkout-7f9dd8b6c4-aaaaa", ("ReplicaSet", "checkout-7f9dd8b6c4")),
               pod("shop", "orders-5d8c7b9f6a-bbbbb", ("ReplicaSet", "orders-5d8c7b9f6a"))]
    s = [series("service:latency_seconds:p99_1m", flat(0.3, 16) + [0.7] * 4, namespace="shop",
                service="checkout"),
         series("service:errors:ratio_rate1m", flat(0.001, 20), namespace="shop",
                service="checkout")]
    if network:  # the round-trip series only started when the trouble did: no baseline yet
        s.append(series("pod:network_latency_seconds:p99_1m", [0.18, 0.18, 0.18],
                        namespace="shop", pod="orders-5d8c7b9f6a-bbbbb"))
    return diagnose_snapshot(snapshot(
        objects=objects, series=s, topology=[("checkout", "orders")],
        alerts=[alert({"alertname": "HighLatencyP99", "namespace": "shop",
                       "service": "checkout"})]))


def test_a_young_network_series_at_an_abnormal_level_names_the_callee() -> None:
    assert top(_net_case(network=True)) == ("shop", "orders", "network_latency")
    # without it, nothing below checkout is seen to be anomalous: orders is not named
    assert top(_net_case(network=False))[1] != "orders"


def test_latency_that_callers_inherit_is_localised_to_the_deepest_slow_callee() -> None:
    def case(orders_errors: float) -> DiagnosisReport:
        objects = [*deployment("shop", "checkout"),
                   *deployment("shop", "orders", rs="5d8c7b9f6a")]
        s = [series("service:latency_seconds:p99_1m", flat(0.3, 30) + [0.9] * 10,
                    namespace="shop", service="checkout"),
             series("service:latency_seconds:p99_1m", flat(0.1, 30) + [0.8] * 10,
                    namespace="shop", service="orders"),
             series("service:errors:ratio_rate1m", flat(0.001, 30) + [orders_errors] * 10,
                    namespace="shop", service="orders")]
        return diagnose_snapshot(snapshot(
            objects=objects, series=s, topology=[("checkout", "orders")],
            alerts=[alert({"alertname": "HighLatencyP99", "namespace": "shop",
                           "service": "checkout"})]))

    # slower but not failing, nothing saturated: time lost on the way to and from orders
    assert top(case(0.001)) == ("shop", "orders", "network_latency")
    # failing too: that is the callee's own error, not the network
    assert top(case(0.3)) == ("shop", "orders", "application_error")


def test_young_series_below_the_abnormal_level_or_with_a_baseline_say_nothing() -> None:
    def findings(values: list[float]) -> int:
        s = series("pod:network_latency_seconds:p99_1m", values, namespace="shop",
                   pod="orders-5d8c7b9f6a-bbbbb")
        ix = Index.build(snapshot(objects=deployment("shop", "orders", rs="5d8c7b9f6a"),
                                  series=[s]))
        return len(young_series_findings(ix))

    assert findings([0.2, 0.2, 0.2]) == 1
    assert findings([0.004, 0.004, 0.004]) == 0
    assert findings([0.2] * 12) == 0  # long enough to be judged against its own baseline
    empty = Series(metric={"__name__": "pod:network_latency_seconds:p99_1m",
                           "namespace": "shop", "pod": "orders-5d8c7b9f6a-bbbbb"}, values=[])
    assert young_series_findings(Index.build(snapshot(series=[empty]))) == []


def _probe_case(exit_code: int, liveness: bool,
                description: str = "image cart:1.4 -> cart:1.5; livenessProbe of cart changed",
                ) -> DiagnosisReport:
    objects: list[dict[str, object]] = [*deployment("shop", "cart")]
    for suffix in ("aaaaa", "bbbbb"):
        name = f"cart-7f9dd8b6c4-{suffix}"
        objects.append(pod("shop", name, ("ReplicaSet", "cart-7f9dd8b6c4"), restarts=3,
                           ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}},
                           last={"reason": "Error", "exitCode": exit_code,
                                 "finishedAt": ts(1)}))
        if liveness:
            objects.append(event("Pod", "shop", name, "Unhealthy",
                                 "Liveness probe failed: HTTP probe failed with statuscode: 404",
                                 count=3, minutes_ago=1))
    return diagnose_snapshot(snapshot(
        objects=objects,
        changes=[change("deploy", "shop/deployment/cart", 12, description)],
        alerts=[alert({"alertname": "KubePodCrashLooping", "namespace": "shop",
                       "service": "cart"})]))


def test_restarts_by_the_kubelet_after_liveness_failures_are_a_probe_fault() -> None:
    assert top(_probe_case(137, liveness=True)) == ("shop", "cart", "probe_failure")
    # exiting on its own with an error code is the code failing, whatever the probes say
    assert top(_probe_case(1, liveness=False))[2] != "probe_failure"


def test_a_false_alarm_sits_at_the_deepest_alerting_service() -> None:
    objects = [*deployment("shop", "gateway"), *deployment("shop", "frontend", rs="5d8c7b9f6a"),
               pod("shop", "gateway-7f9dd8b6c4-aaaaa", ("ReplicaSet", "gateway-7f9dd8b6c4")),
               pod("shop", "frontend-5d8c7b9f6a-bbbbb", ("ReplicaSet", "frontend-5d8c7b9f6a"))]
    s = [series(name, flat(level), namespace="shop", service=svc)
         for svc in ("gateway", "frontend")
         for name, level in (("service:latency_seconds:p99_1m", 0.2),
                             ("service:errors:ratio_rate1m", 0.002))]
    # the caller's alert arrives first; both resolved after a blip that passed
    alerts = [alert({"alertname": "HighErrorRate", "namespace": "shop", "service": "gateway"},
                    status="resolved"),
              alert({"alertname": "HighLatencyP99", "namespace": "shop", "service": "frontend"},
                    status="resolved")]
    report = diagnose_snapshot(snapshot(objects=objects, series=s, alerts=alerts,
                                        topology=[("gateway", "frontend")]))
    assert top(report) == ("shop", "frontend", "none")
    assert NOW - timedelta(minutes=8) == alerts[0].starts_at


def _memory_case(values: list[float]) -> DiagnosisReport:
    objects = [*deployment("shop", "checkout"),
               pod("shop", "checkout-7f9dd8b6c4-aaaaa", ("ReplicaSet", "checkout-7f9dd8b6c4"))]
    s = [series("pod:memory_working_set:ratio", values, namespace="shop",
                pod="checkout-7f9dd8b6c4-aaaaa", container="checkout")]
    return diagnose_snapshot(snapshot(objects=objects, series=s, alerts=[
        alert({"alertname": "ContainerMemoryNearLimit", "namespace": "shop",
               "service": "checkout"})]))


def test_a_leak_that_began_mid_window_is_read_from_its_ramp_not_its_logs() -> None:
    # flat for twenty minutes, then a steady climb of 4% of the limit a minute (no logs)
    ramp = flat(0.59, 20, jitter=0.0) + [0.6 + 0.04 * i for i in range(10)]
    report = _memory_case(ramp)
    assert top(report) == ("shop", "checkout", "memory_leak")
    assert "climbs steadily since" in report.hypotheses[0].evidence[0]
    # the same level reached by a step stays flat after it: not a leak
    step = flat(0.59, 20, jitter=0.0) + [0.96] * 10
    assert top(_memory_case(step))[2] != "memory_leak"


def test_a_rollout_that_only_changed_its_probes_is_a_probe_fault_without_events() -> None:
    def case(description: str) -> DiagnosisReport:
        objects: list[dict[str, object]] = [*deployment("shop", "cart")]
        objects += [pod("shop", f"cart-7f9dd8b6c4-{s}", ("ReplicaSet", "cart-7f9dd8b6c4"),
                        restarts=3, ready=False,
                        state={"waiting": {"reason": "CrashLoopBackOff"}},
                        last={"reason": "Error", "exitCode": 137, "finishedAt": ts(1)})
                    for s in ("aaaaa", "bbbbb")]
        return diagnose_snapshot(snapshot(
            objects=objects, changes=[change("deploy", "shop/deployment/cart", 12, description)],
            alerts=[alert({"alertname": "KubePodCrashLooping", "namespace": "shop",
                           "service": "cart"})]))

    assert top(case("livenessProbe of cart changed; readinessProbe of cart changed")) == (
        "shop", "cart", "probe_failure")
    # new code shipped with the probe change: the build is as suspect as the probe
    assert top(case("image cart:1.4 -> cart:1.5; livenessProbe path /healthz -> /live")) == (
        "shop", "cart", "bad_deploy")


def test_without_a_service_map_callers_logs_give_the_walk_to_the_dependency() -> None:
    objects = [*deployment("shop", "frontend"), *deployment("shop", "payments", rs="5d8c7b9f6a"),
               pod("shop", "frontend-7f9dd8b6c4-aaaaa", ("ReplicaSet", "frontend-7f9dd8b6c4")),
               pod("shop", "payments-5d8c7b9f6a-bbbbb", ("ReplicaSet", "payments-5d8c7b9f6a"))]
    s = [series("service:errors:ratio_rate1m", flat(0.001, 30) + [0.7] * 10, namespace="shop",
                service=svc) for svc in ("frontend", "payments")]
    lg = [logs("shop", "frontend-7f9dd8b6c4-aaaaa",
               [f"2026-03-01T11:5{i}:00Z ERROR upstream payments returned 503" for i in range(6)]),
          logs("shop", "payments-5d8c7b9f6a-bbbbb",
               [f"2026-03-01T11:5{i}:00Z ERROR call to api.pay.example timed out after 3s"
                for i in range(6)])]
    report = diagnose_snapshot(snapshot(
        objects=objects, series=s, logs=lg,
        alerts=[alert({"alertname": "HighErrorRate", "namespace": "shop",
                       "service": "frontend"})]))
    assert top(report) == ("", "api.pay.example", "external_dependency")


def _surge_case(hpa_status: dict[str, object], rates: list[float]) -> DiagnosisReport:
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "catalog", "namespace": "shop"},
           "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "catalog"},
                    "minReplicas": 2, "maxReplicas": 4,
                    "metrics": [{"type": "Resource", "resource": {
                        "name": "cpu", "target": {"type": "Utilization",
                                                  "averageUtilization": 80}}}]},
           "status": hpa_status}
    s = [series("service:requests:rate1m", rates, namespace="shop", service="catalog"),
         series("pod:cpu_usage:ratio", flat(0.47, 36) + [0.66, 0.65, 0.62, 0.72],
                namespace="shop", pod="catalog-7f9dd8b6c4-aaaaa", container="catalog")]
    return diagnose_snapshot(snapshot(
        objects=[*deployment("shop", "catalog"), hpa,
                 pod("shop", "catalog-7f9dd8b6c4-aaaaa", ("ReplicaSet", "catalog-7f9dd8b6c4"))],
        series=s, alerts=[alert({"alertname": "HighLatencyP99", "namespace": "shop",
                                 "service": "catalog"})]))


def test_an_hpa_at_its_ceiling_above_target_with_demand_still_climbing_is_a_surge() -> None:
    at_max = {"currentReplicas": 4, "desiredReplicas": 4,
              "currentMetrics": [{"type": "Resource", "resource": {
                  "name": "cpu", "current": {"averageUtilization": 87}}}]}
    climbing = flat(113, 36) + [162, 238, 305, 360]  # tripled over the last four minutes
    report = _surge_case(at_max, climbing)
    assert top(report) == ("shop", "catalog", "traffic_surge")
    assert any("vs target 80%" in e for e in report.hypotheses[0].evidence)
    # below its ceiling, with flat demand: nothing says the traffic outgrew the service
    calm = {"currentReplicas": 2, "desiredReplicas": 2,
            "currentMetrics": [{"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": 60}}}]}
    assert top(_surge_case(calm, flat(113, 40)))[2] != "traffic_surge"


def test_a_volume_that_filled_minutes_ago_is_full_now() -> None:
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "data-orders-db-0", "namespace": "data"},
           "status": {"phase": "Bound"}}
    filling = flat(0.55, 30, jitter=0.0) + [0.64, 0.72, 0.80, 0.89, 0.97, 0.999, 0.999]
    report = diagnose_snapshot(snapshot(
        objects=[statefulset("data", "orders-db"), pvc],
        series=[series("pvc:usage:ratio", filling, namespace="data",
                       persistentvolumeclaim="data-orders-db-0")],
        alerts=[alert({"alertname": "HighErrorRate", "namespace": "data",
                       "service": "orders-db"})]))
    assert top(report) == ("data", "orders-db", "disk_pressure")
    assert "100% full" in report.hypotheses[0].evidence[0]
