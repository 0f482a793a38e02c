"""Kubernetes analyzers: what each object state means, and what is only history."""

from __future__ import annotations

from typing import Any

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.kubernetes import kubernetes_findings

from .diag_builders import NOW, alert, deployment, event, flat, node, pod, series, snapshot, ts


def _found(objects: list[dict[str, object]]) -> set[tuple[str, str]]:
    ix = Index.build(snapshot(objects=objects))
    return {(f.service, f.fault) for f in kubernetes_findings(ix, NOW)}


def test_an_old_resolved_oom_is_history_not_evidence() -> None:
    old = pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"), restarts=1,
              last={"reason": "OOMKilled", "exitCode": 137, "finishedAt": ts(60 * 30)})
    assert _found([*deployment("shop", "cart"), old]) == set()
    fresh = pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"), restarts=1,
                last={"reason": "OOMKilled", "exitCode": 137, "finishedAt": ts(10)})
    assert ("cart", "memory_leak") in _found([*deployment("shop", "cart"), fresh])


def test_node_conditions() -> None:
    found = _found([node("n1", ready="False", reason="KubeletNotReady"),
                    node("n2", DiskPressure="True"), node("n3")])
    assert found == {("n1", "node_failure"), ("n2", "disk_pressure")}


def test_crash_loop_with_error_exit_is_a_generic_failure_of_the_workload() -> None:
    p = pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"), restarts=6,
            state={"waiting": {"reason": "CrashLoopBackOff"}}, ready=False,
            last={"reason": "Error", "exitCode": 1, "finishedAt": ts(1)})
    ix = Index.build(snapshot(objects=[*deployment("shop", "cart"), p]))
    (f,) = kubernetes_findings(ix, NOW)
    assert (f.service, f.fault, f.generic) == ("cart", "application_error", True)
    assert "last exit 1" in f.evidence


def test_certificate_and_hpa_at_its_ceiling() -> None:
    cert = {"kind": "Certificate", "metadata": {"name": "payments-tls", "namespace": "pay"},
            "spec": {"dnsNames": ["payments.pay.svc"]},
            "status": {"notAfter": ts(30), "conditions": [
                {"type": "Ready", "status": "False", "reason": "Expired"}]}}
    hpa = {"kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"scaleTargetRef": {"name": "web"}, "maxReplicas": 4},
           "status": {"currentReplicas": 4, "desiredReplicas": 9}}
    found = _found([*deployment("pay", "payments"), cert, hpa])
    assert ("payments", "certificate_expired") in found and ("web", "traffic_surge") in found


def test_stale_events_are_ignored() -> None:
    stale = event("Pod", "shop", "cart-7f9dd8b6c4-aaaaa", "Unhealthy",
                  "Readiness probe failed: timeout", minutes_ago=60 * 10)
    live = event("Pod", "shop", "cart-7f9dd8b6c4-aaaaa", "Unhealthy",
                 "Readiness probe failed: timeout")
    assert _found([*deployment("shop", "cart"), stale]) == set()
    assert _found([*deployment("shop", "cart"), live]) == {("cart", "probe_failure")}


def test_running_but_not_ready_is_readiness_unless_the_node_is_down() -> None:
    cond = [{"type": "Ready", "status": "False"}]
    p = pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"), ready=False,
            conditions=cond, node="n1")
    assert _found([*deployment("shop", "cart"), node("n1"), p]) == {("cart", "probe_failure")}
    assert ("cart", "probe_failure") not in _found(
        [*deployment("shop", "cart"), node("n1", ready="Unknown", reason="NodeStatusUnknown"), p])


def test_replicaset_events_belong_to_the_deployment() -> None:
    quota = event("ReplicaSet", "ledger", "books-7f9dd8b6c4", "FailedCreate",
                  'Error creating: pods "books-7f9dd8b6c4-zzzzz" is forbidden: exceeded quota: '
                  "q1, requested: limits.cpu=1")
    assert _found([*deployment("ledger", "books"), quota]) == {("books", "unschedulable")}


def test_a_controller_that_cannot_create_pods_for_a_missing_object_is_configuration() -> None:
    missing = event("Job", "batch", "nightly-export", "FailedCreate",
                    'Error creating: pods "nightly-export-" is forbidden: error looking up '
                    'service account batch/exporter: serviceaccount "exporter" not found')
    assert _found([missing]) == {("nightly-export", "config_error")}


def test_a_pod_no_node_was_ever_assigned_to_is_unschedulable() -> None:
    waiting = pod("ledger", "books-7f9dd8b6c4-aaaaa", ("ReplicaSet", "books-7f9dd8b6c4"),
                  phase="Pending")
    waiting["spec"].pop("nodeName")
    waiting["status"].pop("containerStatuses")
    assert _found([*deployment("ledger", "books"), waiting]) == {("books", "unschedulable")}
    # one that is placed and starting its containers is not
    starting = pod("ledger", "books-7f9dd8b6c4-aaaaa", ("ReplicaSet", "books-7f9dd8b6c4"),
                   phase="Pending")
    assert _found([*deployment("ledger", "books"), starting]) == set()


def _weights(objects: list[dict[str, object]]) -> dict[tuple[str, str], tuple[float, bool]]:
    """Return (weight, chronic) of the strongest finding by (place, fault)."""
    ix = Index.build(snapshot(objects=objects))
    out: dict[tuple[str, str], tuple[float, bool]] = {}
    for f in kubernetes_findings(ix, NOW):
        key = (f.service, f.fault)
        out[key] = max(out.get(key, (0.0, False)), (round(f.weight, 3), f.chronic))
    return out


def _stuck_pulling(created_minutes_ago: float) -> dict[str, Any]:
    p = pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"), ready=False,
            phase="Pending", state={"waiting": {"reason": "ImagePullBackOff"}})
    p["metadata"]["creationTimestamp"] = ts(created_minutes_ago)
    return p


def test_a_pod_stuck_since_long_before_the_incident_is_old_trouble() -> None:
    # an image that cannot be pulled since the pod was made, minutes ago: what changed now
    assert _weights([*deployment("shop", "cart"), _stuck_pulling(12)]) == {
        ("cart", "image_pull_error"): (0.8, False)}
    # ... and the same for three days: it predates the incident (rules.py weighs it less)
    assert _weights([*deployment("shop", "cart"), _stuck_pulling(3 * 24 * 60)]) == {
        ("cart", "image_pull_error"): (0.8, True)}


def test_a_crash_loop_is_as_old_as_its_restarts_say() -> None:
    def looping(restarts: int) -> dict[str, object]:
        return pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"),
                   restarts=restarts, state={"waiting": {"reason": "CrashLoopBackOff"}},
                   ready=False, last={"reason": "Error", "exitCode": 1, "finishedAt": ts(1)})

    # restarts come five minutes apart at most: 6 began half an hour ago, 900 three days ago
    assert _weights([*deployment("shop", "cart"), looping(6)])[
        ("cart", "application_error")] == (0.35, False)
    assert _weights([*deployment("shop", "cart"), looping(900)])[
        ("cart", "application_error")] == (0.35, True)


def test_an_event_repeated_for_days_is_old_trouble() -> None:
    def failed(first_minutes_ago: float) -> dict[str, object]:
        ev = event("Pod", "shop", "cart-7f9dd8b6c4-aaaaa", "FailedScheduling",
                   "0/3 nodes are available: 3 Insufficient memory.", count=40)
        ev["firstTimestamp"] = ts(first_minutes_ago)
        return ev

    fresh = _weights([*deployment("shop", "cart"), failed(30)])
    assert fresh[("cart", "unschedulable")] == (0.6, False)
    assert _weights([*deployment("shop", "cart"), failed(5 * 24 * 60)])[
        ("cart", "unschedulable")] == (0.6, True)


def test_old_breakage_beside_the_alert_is_not_why_it_fired() -> None:
    stuck = _stuck_pulling(3 * 24 * 60)
    stuck["metadata"] = {**stuck["metadata"], "name": "banner-5c8d7f6b9-bbbbb",
                         "ownerReferences": [{"kind": "ReplicaSet",
                                              "name": "banner-5c8d7f6b9"}]}
    healthy = pod("shop", "checkout-6d4b9c7f8-ccccc", ("ReplicaSet", "checkout-6d4b9c7f8"))
    golden = [series("service:errors:ratio_rate1m", flat(0.004), namespace="shop",
                     service="checkout"),
              series("service:latency_seconds:p99_1m", flat(0.3), namespace="shop",
                     service="checkout")]
    firing = [alert({"alertname": "HighLatencyP99", "namespace": "shop",
                     "service": "checkout"})]
    objects = [*deployment("shop", "checkout", rs="6d4b9c7f8"),
               *deployment("shop", "banner", rs="5c8d7f6b9"), healthy, stuck]
    report = diagnose_snapshot(snapshot(objects=objects, series=golden, alerts=firing))
    h = report.hypotheses[0]
    assert (h.service, h.fault) == ("checkout", "none")
    # the same image pull, begun minutes ago, is trouble now (no call graph says it is not)
    objects[-1] = {**stuck, "metadata": {**stuck["metadata"], "creationTimestamp": ts(12)}}
    report = diagnose_snapshot(snapshot(objects=objects, series=golden, alerts=firing))
    assert (report.hypotheses[0].service, report.hypotheses[0].fault) == \
        ("banner", "image_pull_error")
    # three pods of it stuck alike for days are one old fact, not three pieces of evidence:
    # the alerting place's own (weaker, fresh-looking) trouble still comes first
    pending = pod("shop", "checkout-6d4b9c7f8-ddddd", ("ReplicaSet", "checkout-6d4b9c7f8"))
    pending["spec"].pop("nodeName")  # never placed, and no scheduler message to say why
    pending["status"] = {"phase": "Pending"}
    pending["metadata"]["creationTimestamp"] = ts(30)
    stuck_three = [{**stuck, "metadata": {**stuck["metadata"], "name": f"banner-5c8d7f6b9-{c}"}}
                   for c in ("bbbbb", "ccccc", "ddddd")]
    report = diagnose_snapshot(snapshot(objects=[*objects[:4], pending, *stuck_three],
                                        series=golden, alerts=firing))
    assert (report.hypotheses[0].service, report.hypotheses[0].fault) == \
        ("checkout", "unschedulable")
    # old trouble on the alerting place itself is what the alert is about, whatever its age
    about_it = [alert({"alertname": "KubePodNotReady", "namespace": "shop",
                       "pod": "banner-5c8d7f6b9-bbbbb"})]
    report = diagnose_snapshot(snapshot(objects=[*objects[:-1], stuck], series=golden,
                                        alerts=about_it))
    assert (report.hypotheses[0].service, report.hypotheses[0].fault) == \
        ("banner", "image_pull_error")
