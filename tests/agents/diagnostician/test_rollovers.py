"""Pods a new ReplicaSet replaced, read from the pod names in the metrics alone."""

from __future__ import annotations

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.diagnostician.anomaly import score_all
from warroom.agents.diagnostician.changes import rollouts_from_pod_series
from warroom.agents.diagnostician.index import Index
from warroom.agents.models import DiagnosisReport
from warroom.sensors.models import Series

from .diag_builders import alert, change, flat, series, snapshot, stepped

OLD, NEW = "cart-7f9dd8b6c4", "cart-5c6b8d9f7b"


def pod_series(pod: str, values: list[float | None], name: str = "pod:cpu_usage:ratio"
               ) -> Series:
    """A per-pod series over 40 minutes; None where the pod did not exist."""
    full = series(name, [v if v is not None else 0.0 for v in values], namespace="shop",
                  pod=pod, container="cart")
    return full.model_copy(update={"values": [
        p for p, v in zip(full.values, values, strict=True) if v is not None]})


def rolled(at: int, level: float = 0.4, pods: tuple[str, ...] = ("x2bnp", "q9sw6")
           ) -> list[Series]:
    """Each old pod's series stops at index `at`, a new ReplicaSet's pod goes on from it."""
    out = []
    for i, suffix in enumerate(pods):
        vals = flat(level + 0.05 * i)
        out.append(pod_series(f"{OLD}-{suffix}", [*vals[:at], *[None] * (40 - at)]))
        out.append(pod_series(f"{NEW}-{suffix[::-1]}", [*[None] * at, *vals[at:]]))
    return out


def test_a_rollout_stitches_each_replaced_pod_into_its_successor() -> None:
    ix = Index.build(snapshot(series=rolled(28)))
    assert [(r.old_hash, r.new_hash) for r in ix.rollovers] == [("7f9dd8b6c4", "5c6b8d9f7b")] * 2
    assert sorted(s.metric["pod"] for s in ix.snapshot.series) == [f"{NEW}-6ws9q",
                                                                    f"{NEW}-pnb2x"]
    assert all(len(s.values) == 40 for s in ix.snapshot.series)  # history and successor, whole
    # a healthy rollout is no anomaly: nothing stopped reporting, nothing moved
    assert not any(sig.stopped or sig.score > 0.3 for sig in score_all(ix))


def test_without_the_stitch_a_rollout_would_read_as_targets_that_stopped() -> None:
    raw = Index.build(snapshot(series=[]))
    raw.snapshot = snapshot(series=rolled(28))
    assert any(sig.stopped for sig in score_all(raw))


def test_a_pod_replaced_under_the_same_hash_is_news_and_is_not_stitched() -> None:
    vals = flat(0.4)
    gone = pod_series(f"{OLD}-x2bnp", [*vals[:28], *[None] * 12])
    back = pod_series(f"{OLD}-zzzzz", [*[None] * 28, *vals[28:]])
    ix = Index.build(snapshot(series=[gone, back]))
    assert ix.rollovers == []
    assert any(sig.stopped for sig in score_all(ix))


def test_coarse_steps_a_successor_that_begins_in_the_sample_its_predecessor_ends() -> None:
    # 5-minute means: the bucket of the rollout holds both pods, the old one stops after it
    end = series("x", [0.0]).values[0][0]
    at = [end - 300 * k for k in (4, 3, 2, 1, 0)]
    old = pod_series(f"{OLD}-x2bnp", [0.4]).model_copy(update={
        "values": [(at[0], "0.4"), (at[1], "0.41")]})
    new = pod_series(f"{NEW}-pnb2x", [0.4]).model_copy(update={
        "values": [(t, "0.4") for t in at[1:]]})
    ix = Index.build(snapshot(series=[old, new]))
    assert [(r.old_pod, r.new_pod) for r in ix.rollovers] == [(f"{OLD}-x2bnp", f"{NEW}-pnb2x")]
    [joined] = ix.snapshot.series
    assert [t for t, _ in joined.values] == at


def test_pods_of_two_hashes_that_both_stop_are_not_stitched_to_each_other() -> None:
    vals = flat(0.4)
    a = pod_series(f"{OLD}-x2bnp", [*vals[:30], *[None] * 10])
    b = pod_series(f"{NEW}-q9sw6", [*vals[:30], *[None] * 10])
    assert Index.build(snapshot(series=[a, b])).rollovers == []


def test_a_rollout_in_the_pod_names_is_a_change_once() -> None:
    ix = Index.build(snapshot(series=rolled(28)))
    [rollout] = rollouts_from_pod_series(ix, [])
    assert (rollout.kind, rollout.target) == ("deploy", "shop/deployment/cart")
    assert "5c6b8d9f7b" in rollout.description and "7f9dd8b6c4" in rollout.description
    # the feed has it already (within minutes): not read twice
    recorded = change("deploy", "shop/deployment/cart", 12, "image cart:1.4 -> 1.5")
    assert rollouts_from_pod_series(ix, [recorded]) == []


def diagnose(*pods: Series, cart_errors: float, shipping_errors: float = 0.004
             ) -> DiagnosisReport:
    """Checkout calls cart and shipping; the alert is on checkout; no object, log or feed."""
    golden = [
        series("service:errors:ratio_rate1m", stepped(0.004, cart_errors), namespace="shop",
               service="cart"),
        series("service:errors:ratio_rate1m", stepped(0.004, shipping_errors),
               namespace="shop", service="shipping"),
        series("service:errors:ratio_rate1m", stepped(0.004, 0.15), namespace="shop",
               service="checkout"),
    ]
    return diagnose_snapshot(snapshot(
        series=[*golden, *pods], topology=[("checkout", "cart"), ("checkout", "shipping")],
        alerts=[alert({"alertname": "HighErrorRate", "namespace": "shop",
                       "service": "checkout"})]))


def test_failing_right_after_a_rollout_seen_only_in_the_metrics_is_a_bad_deploy() -> None:
    report = diagnose(*rolled(28), cart_errors=0.3)
    h = report.hypotheses[0]
    assert (h.namespace, h.service, h.fault) == ("shop", "cart", "bad_deploy")
    assert any("new ReplicaSet" in e for e in h.evidence)


def test_a_healthy_rollout_beside_the_failing_service_is_not_blamed() -> None:
    report = diagnose(*rolled(28), cart_errors=0.004, shipping_errors=0.3)
    h = report.hypotheses[0]
    assert (h.service, h.fault) == ("shipping", "application_error")
    assert all(x.service != "cart" or x.fault != "bad_deploy" for x in report.hypotheses)
