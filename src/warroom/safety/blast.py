"""Blast radius 0–100: how much of the system an action touches, from the evidence.

Four factors, each bounded: the replicas (or pods on a node) the action disturbs, the share of
traffic that flows through the target, whether it holds state, and how critical its namespace
is. `risk_of` turns the score into the package's risk level.
"""

from __future__ import annotations

from typing import Any

from warroom.domain.models import Action, Risk
from warroom.safety.rules import is_database_name, parse_target
from warroom.sensors.models import EvidenceData

# how disruptive the action is in itself, before it is weighed by what it touches
BASE: dict[str, int] = {
    "set_hpa": 5, "scale": 8, "cordon_node": 10, "delete_pod": 10, "set_resources": 15,
    "rollout_restart": 15, "rollout_undo": 20, "drain_node": 30, "escalate": 0, "no_action": 0,
}
# does the action restart (or evict) the pods it touches?
RESTARTS = frozenset({"set_resources", "rollout_restart", "rollout_undo", "drain_node",
                      "delete_pod"})


def blast_radius(action: Action, evidence: EvidenceData,
                 critical_namespaces: list[str] | tuple[str, ...] = ()) -> int:
    """Score the blast radius of an action against the evidence, 0 (none) to 100 (everything)."""
    if action.type in ("escalate", "no_action") or not action.target:
        return 0
    target = parse_target(action.target)
    if target is None:
        return 100
    score = float(BASE.get(action.type, 30))
    if target.kind == "node":
        pods = _pods_on_node(evidence.objects, target.name)
        score += min(30, 3 * pods) if action.type == "drain_node" else min(10, pods)
        score += 10 * len(_namespaces_on_node(evidence.objects, target.name) & set(
            critical_namespaces)) if action.type == "drain_node" else 0
        return _clamp(score)
    replicas = _replicas(evidence.objects, target.namespace, target.kind, target.name)
    if action.type in RESTARTS:
        # a rolling restart of one replica is an outage; of many, a brief capacity dip
        score += 15 if replicas <= 1 else min(15, 2 * replicas)
    else:
        score += min(8, replicas)
    score += 25 * traffic_share(evidence, target.namespace, target.name)
    if target.kind in ("statefulset", "pod") and _stateful(evidence.objects, target):
        score += 25
    elif is_database_name(target.name):
        score += 25
    if target.namespace in critical_namespaces:
        score += 15
    return _clamp(score)


def risk_of(blast: int) -> Risk:
    """Map a blast radius to a risk level."""
    if blast < 20:
        return "low"
    if blast < 50:
        return "medium"
    if blast <= 80:
        return "high"
    return "critical"


def traffic_share(evidence: EvidenceData, namespace: str, service: str) -> float:
    """Return the service's share (0..1) of all request traffic seen, latest samples."""
    total = mine = 0.0
    for series in evidence.series:
        if series.name != "service:requests:rate1m" or not series.values:
            continue
        try:
            value = float(series.values[-1][1])
        except ValueError:
            continue
        if value != value or value < 0:  # NaN or nonsense
            continue
        total += value
        if series.metric.get("service") == service and series.metric.get(
                "namespace", namespace) == namespace:
            mine += value
    return mine / total if total > 0 else 0.0


def _clamp(score: float) -> int:
    return max(0, min(100, round(score)))


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _replicas(objects: list[dict[str, Any]], namespace: str, kind: str, name: str) -> int:
    if kind == "pod":
        return 1
    wanted = {"deployment": "Deployment", "statefulset": "StatefulSet",
              "daemonset": "DaemonSet", "horizontalpodautoscaler": "Deployment"}.get(kind)
    for obj in objects:
        meta = _meta(obj)
        if obj.get("kind") == wanted and meta.get("name") == name and meta.get(
                "namespace", "") == namespace:
            spec, status = obj.get("spec") or {}, obj.get("status") or {}
            value = spec.get("replicas", status.get("replicas", status.get(
                "desiredNumberScheduled", 1)))
            return int(value) if isinstance(value, int) else 1
    return 1


def _pods_on_node(objects: list[dict[str, Any]], node: str) -> int:
    return sum(1 for o in objects if o.get("kind") == "Pod" and (
        o.get("spec") or {}).get("nodeName") == node)


def _namespaces_on_node(objects: list[dict[str, Any]], node: str) -> set[str]:
    return {_meta(o).get("namespace", "") for o in objects if o.get("kind") == "Pod" and (
        o.get("spec") or {}).get("nodeName") == node}


def _stateful(objects: list[dict[str, Any]], target: Any) -> bool:
    if target.kind == "statefulset":
        return True
    for obj in objects:
        meta = _meta(obj)
        if obj.get("kind") == "Pod" and meta.get("name") == target.name:
            owners = meta.get("ownerReferences") or []
            volumes = (obj.get("spec") or {}).get("volumes") or []
            return any(o.get("kind") == "StatefulSet" for o in owners) or any(
                "persistentVolumeClaim" in v for v in volumes)
    return False
