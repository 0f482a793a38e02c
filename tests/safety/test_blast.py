from __future__ import annotations

from typing import Any

from warroom.agents.models import Action
from warroom.safety.blast import blast_radius, risk_of, traffic_share
from warroom.sensors.models import EvidenceData, Series


def deployment(ns: str, name: str, replicas: int) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"namespace": ns, "name": name},
            "spec": {"replicas": replicas}}


def rate(ns: str, svc: str, value: float) -> Series:
    return Series(metric={"__name__": "service:requests:rate1m", "namespace": ns,
                          "service": svc}, values=[(0.0, str(value))])


def test_escalate_and_no_action_touch_nothing() -> None:
    ev = EvidenceData()
    assert blast_radius(Action(type="escalate"), ev) == 0
    assert blast_radius(Action(type="no_action"), ev) == 0


def test_traffic_share_counts_only_the_target() -> None:
    ev = EvidenceData(series=[rate("shop", "a", 30), rate("shop", "b", 70)])
    assert traffic_share(ev, "shop", "b") == 0.7


def test_more_traffic_more_replicas_critical_namespace_raise_the_score() -> None:
    restart = Action(type="rollout_restart", target="shop/deployment/a")
    quiet = EvidenceData(objects=[deployment("shop", "a", 4)],
                         series=[rate("shop", "a", 1), rate("shop", "b", 99)])
    busy = EvidenceData(objects=[deployment("shop", "a", 4)],
                        series=[rate("shop", "a", 99), rate("shop", "b", 1)])
    low, high = blast_radius(restart, quiet), blast_radius(restart, busy)
    assert high > low
    assert blast_radius(restart, busy, ["shop"]) > high


def test_single_replica_restart_is_riskier_than_scaling() -> None:
    ev = EvidenceData(objects=[deployment("shop", "a", 1)])
    restart = blast_radius(Action(type="rollout_restart", target="shop/deployment/a"), ev)
    scale = blast_radius(Action(type="scale", target="shop/deployment/a",
                                params={"replicas": 2}), ev)
    assert restart > scale


def test_stateful_targets_and_node_drains_score_high() -> None:
    sts = blast_radius(Action(type="rollout_restart", target="db/statefulset/store"),
                       EvidenceData())
    assert sts >= 50
    pods = [{"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "prod"},
             "spec": {"nodeName": "w1"}} for i in range(10)]
    drain = blast_radius(Action(type="drain_node", target="/node/w1"), EvidenceData(
        objects=pods), ["prod"])
    cordon = blast_radius(Action(type="cordon_node", target="/node/w1"), EvidenceData(
        objects=pods), ["prod"])
    assert drain > 50 > cordon


def test_risk_levels() -> None:
    assert [risk_of(b) for b in (0, 19, 20, 50, 80, 81)] == [
        "low", "low", "medium", "high", "high", "critical"]
