"""Change correlation: only changes just before the onset, only on troubled workloads."""

from __future__ import annotations

from datetime import datetime, timedelta

from warroom.agents.diagnostician.changes import change_findings, rollouts_from_replicasets
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.sensors.models import Change, Series

from .diag_builders import NOW, alert, change, deployment, flat, pod, series, snapshot, stepped, ts


def test_deploy_window_and_troubled_workloads_only() -> None:
    ix = Index.build(snapshot(objects=[*deployment("shop", "cart"),
                                       *deployment("shop", "search", rs="9c9c9c9c9c")]))
    onset = NOW - timedelta(minutes=10)
    changes = [change("deploy", "shop/deployment/cart", 20, "cart:1 -> cart:2"),
               change("deploy", "shop/deployment/search", 15, "search:1 -> search:2"),
               change("deploy", "shop/deployment/cart", 300, "old")]
    found = change_findings(ix, changes, {}, {("shop", "cart"): True}, onset)
    assert [(f.service, f.fault) for f in found] == [("cart", "bad_deploy")]
    assert "10 min before the onset" in found[0].evidence


def test_a_deploy_nothing_explains_counts_no_more_than_its_place_moved() -> None:
    ix = Index.build(snapshot(objects=deployment("shop", "cart")))
    onset = NOW - timedelta(minutes=10)
    deploy = [change("deploy", "shop/deployment/cart", 15, "cart:1 -> cart:2")]
    unowned = {("shop", "cart"): False}  # trouble, but no object or log line says what broke

    def weight(moved: dict[tuple[str, str], float] | None) -> float:
        (found,) = change_findings(ix, deploy, {}, unowned, onset, moved=moved)
        return found.weight

    assert weight(None) == weight({("shop", "cart"): 0.9}) == 0.3
    assert weight({("shop", "cart"): 0.12}) == 0.12  # barely moved: a deploy says when, not what
    # an object or log line that says what broke keeps the deploy strong however little moved
    (owned,) = change_findings(ix, deploy, {}, {("shop", "cart"): True}, onset,
                               moved={("shop", "cart"): 0.12})
    assert owned.weight == 0.6


def test_configmap_change_is_config_error_on_its_workload() -> None:
    ix = Index.build(snapshot(objects=deployment("shop", "cart")))
    found = change_findings(ix, [change("config", "shop/configmap/cart-config", 12, "edit")],
                            {}, {("shop", "cart"): True}, NOW - timedelta(minutes=10))
    assert [(f.service, f.fault) for f in found] == [("cart", "config_error")]


def test_without_objects_a_configmap_is_matched_to_the_place_its_name_starts_with() -> None:
    cart = series("service:errors:ratio_rate1m", [0.0] * 5, namespace="shop", service="cart")
    ix = Index.build(snapshot(series=[cart]))
    edit = change("config", "shop/secret/cart-credentials", 12, "password rotated")
    onset = NOW - timedelta(minutes=10)
    quiet = change_findings(ix, [edit], {}, {("shop", "cart"): False}, onset)
    assert [(f.service, f.fault, f.generic) for f in quiet] == [("cart", "config_error", True)]
    # its own series broke first: the edit is the cause, not a coincidence
    first = change_findings(ix, [edit], {}, {("shop", "cart"): False}, onset,
                            broke_first={("shop", "cart")})
    assert [(f.fault, f.generic, f.weight) for f in first] == [("config_error", False, 0.55)]
    # a deploy needs trouble an object or a log line shows
    deploy = change("deploy", "shop/deployment/cart", 12, "cart:1 -> cart:2")
    assert all(f.generic for f in change_findings(ix, [deploy], {}, {("shop", "cart"): False},
                                                  onset, broke_first={("shop", "cart")}))


def test_rollouts_are_read_from_replicaset_revisions() -> None:
    def rs(name: str, rev: int, created: str, image: str) -> dict[str, object]:
        return {"kind": "ReplicaSet", "metadata": {
            "name": name, "namespace": "shop", "creationTimestamp": created,
            "annotations": {"deployment.kubernetes.io/revision": str(rev)},
            "ownerReferences": [{"kind": "Deployment", "name": "cart"}]},
            "spec": {"template": {"spec": {"containers": [{"image": image}]}}}}

    ix = Index.build(snapshot(objects=[rs("cart-a", 4, ts(3000), "cart:1.0"),
                                       rs("cart-b", 5, ts(15), "cart:1.1")]))
    found = rollouts_from_replicasets(ix, [], NOW)
    assert len(found) == 1 and found[0].target == "shop/deployment/cart"
    assert "cart:1.0 -> cart:1.1" in found[0].description
    listed = [change("deploy", "shop/deployment/cart", 15)]
    assert rollouts_from_replicasets(ix, listed, NOW) == []


def test_a_scale_up_whose_new_pods_never_report_is_unschedulable() -> None:
    onset = NOW - timedelta(minutes=10)
    pods = [series("pod:cpu_usage:ratio", [0.4] * 30, namespace="shop", pod=f"cart-7f9dd8b6c4-{p}")
            for p in ("aaaaa", "bbbbb")]
    scale_up = [change("scale", "shop/deployment/cart", 12, "replicas 2 -> 5")]
    troubled = {("shop", "cart"): False}

    def found(extra: list[Series], changes: list[Change],
              at: datetime = onset) -> tuple[float, str]:
        ix = Index.build(snapshot(series=[*pods, *extra]))
        (f,) = change_findings(ix, changes, {("shop", "cart"): at}, troubled, onset)
        assert f.fault == "unschedulable"
        return f.weight, f.evidence

    weight, evidence = found([], scale_up)
    assert weight == 0.55 and "still 2 of 5 pods report and none is new" in evidence
    # a new pod reports: the scale-up ran, and says only when
    young = series("pod:cpu_usage:ratio", [0.3] * 5, namespace="shop", pod="cart-7f9dd8b6c4-ccccc")
    assert found([young], scale_up)[0] == 0.2
    # a scale-down, or too soon after the change to tell, says only when too
    assert found([], [change("scale", "shop/deployment/cart", 12, "replicas 5 -> 2")])[0] == 0.2
    soon = [change("scale", "shop/deployment/cart", 1, "replicas 2 -> 5")]
    assert found([], soon, at=NOW)[0] == 0.2


def test_a_rollout_under_way_is_dated_by_its_new_pods_when_its_replicasets_date_nothing() -> None:
    def born(name: str, owner: str, minutes_ago: float) -> dict[str, object]:
        p = pod("shop", name, ("ReplicaSet", owner))
        p["metadata"]["creationTimestamp"] = ts(minutes_ago)  # type: ignore[index]
        return p

    old, new = deployment("shop", "cart"), deployment("shop", "cart", rs="5b6c7d8e9f")[1:]
    rollout = [*old, *new, born("cart-7f9dd8b6c4-aaaaa", "cart-7f9dd8b6c4", 7000),
               born("cart-5b6c7d8e9f-bbbbb", "cart-5b6c7d8e9f", 14),
               born("cart-5b6c7d8e9f-ccccc", "cart-5b6c7d8e9f", 12)]
    (found,) = rollouts_from_replicasets(Index.build(snapshot(objects=rollout)), [], NOW)
    assert found.target == "shop/deployment/cart"
    assert found.time.strftime("%Y-%m-%dT%H:%M:%SZ") == ts(14)  # its first pod's start
    assert found.description == "ReplicaSet cart-5b6c7d8e9f started its first pod"
    # the old ReplicaSet has no pods left: new pods are a node's rescheduling, not a rollout
    settled = [o for o in rollout if "7f9dd8b6c4-" not in str(o["metadata"])]
    assert rollouts_from_replicasets(Index.build(snapshot(objects=settled)), [], NOW) == []


def test_a_deploy_at_a_place_whose_trouble_is_over_is_no_bad_deploy() -> None:
    # cart was deployed and, minutes later, its p99 wobbled for three minutes, then settled;
    # web's own errors are what the alert is about and still high
    spike = flat(0.2, 40)
    spike[31:34] = [0.9, 0.95, 0.9]
    report = diagnose_snapshot(snapshot(
        series=[series("service:latency_seconds:p99_1m", spike, namespace="shop", service="cart"),
                series("service:errors:ratio_rate1m", stepped(0.001, 0.2, at=30),
                       namespace="shop", service="web")],
        topology=[("web", "cart")],
        alerts=[alert({"alertname": "HighErrorRate", "namespace": "shop", "service": "web"})],
        changes=[change("deploy", "shop/deployment/cart", 15, "cart:1 -> cart:2")]))
    # (before: cart bad_deploy first, at 0.74)
    assert not [h for h in report.hypotheses if (h.service, h.fault) == ("cart", "bad_deploy")]
