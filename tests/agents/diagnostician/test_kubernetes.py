"""Kubernetes analyzers: what each object state means, and what is only history."""

from __future__ import annotations

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.kubernetes import kubernetes_findings

from .diag_builders import NOW, deployment, event, node, pod, snapshot, ts


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
