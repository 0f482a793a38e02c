"""The cluster state an action needs: what to read before it, and what the rendering looks up.

`state` is a dict with an `objects` list of raw API objects, as
`KubernetesExecutor.capture_state` returns it after sending `state_requests`.
"""

from __future__ import annotations

from typing import Any

from warroom.domain.models import Action, ApiCall
from warroom.domain.targets import REVISION, WORKLOADS, Target, collection_path, parse_target


def objects(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Return the raw API objects the state holds."""
    if not state:
        return []
    objects = state.get("objects", [])
    return [o for o in objects if isinstance(o, dict)]


def find(state: dict[str, Any] | None, kind: str, name: str, namespace: str) -> dict | None:
    """Return the state's object of that kind, name and namespace, if it holds one."""
    for obj in objects(state):
        meta = obj.get("metadata", {})
        if (
            obj.get("kind", "").lower() == kind
            and meta.get("name") == name
            and meta.get("namespace", "") == namespace
        ):
            return obj
    return None


def guard(body: dict[str, Any], state: dict[str, Any] | None, target: Target) -> dict:
    """Add the state's resourceVersion as a precondition: a changed object answers 409."""
    seen = find(state, target.kind, target.name, target.namespace)
    version = (seen or {}).get("metadata", {}).get("resourceVersion")
    if version:
        return {"metadata": {"resourceVersion": str(version)}, **body}
    return body


def revision(obj: dict[str, Any]) -> int:
    """Return a ReplicaSet's (or Deployment's) rollout revision, 0 when it has none."""
    raw = (obj.get("metadata", {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def owned_replicasets(state: dict[str, Any] | None, deployment: Target) -> list[dict]:
    """Return the deployment's ReplicaSets from the state, oldest revision first."""
    found = []
    for obj in objects(state):
        meta = obj.get("metadata", {})
        if obj.get("kind") != "ReplicaSet" or meta.get("namespace") != deployment.namespace:
            continue
        owners = meta.get("ownerReferences") or []
        if any(o.get("kind") == "Deployment" and o.get("name") == deployment.name for o in owners):
            found.append(obj)
    return sorted(found, key=revision)


def pods_to_evict(state: dict[str, Any] | None, node: str) -> list[dict[str, Any]]:
    """Return the pods a drain evicts: on the node, not DaemonSet-owned, not mirror pods."""
    pods = []
    for obj in objects(state):
        if obj.get("kind") != "Pod" or obj.get("spec", {}).get("nodeName") != node:
            continue
        meta = obj.get("metadata", {})
        owners = meta.get("ownerReferences") or []
        if any(o.get("kind") == "DaemonSet" for o in owners):
            continue
        if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
            continue
        if obj.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        pods.append(obj)
    return sorted(pods, key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"]["name"]))


def hpa_for(state: dict[str, Any] | None, target: Target) -> str:
    """Return the name of the HPA that scales the target (its own name when it is an HPA)."""
    if target.kind == "horizontalpodautoscaler":
        return target.name
    for obj in objects(state):
        if obj.get("kind") != "HorizontalPodAutoscaler":
            continue
        if obj.get("metadata", {}).get("namespace") != target.namespace:
            continue
        ref = obj.get("spec", {}).get("scaleTargetRef", {})
        if ref.get("kind", "").lower() == target.kind and ref.get("name") == target.name:
            return str(obj["metadata"]["name"])
    return target.name


def state_requests(action: Action) -> list[ApiCall]:
    """Return the GET calls that read what the action touches (what `state` should hold)."""
    if action.type in ("escalate", "no_action"):
        return []
    if action.type in ("cordon_node", "drain_node"):
        target = parse_target(action.target, allowed=("node",))
        calls = [ApiCall(method="GET", path=target.path)]
        if action.type == "drain_node":
            calls.append(ApiCall(
                method="GET", path=f"/api/v1/pods?fieldSelector=spec.nodeName%3D{target.name}"
            ))
        return calls
    if action.type == "delete_pod":
        return [ApiCall(method="GET", path=parse_target(action.target, allowed=("pod",)).path)]
    target = parse_target(
        action.target, allowed=(*WORKLOADS, "horizontalpodautoscaler")
    )
    calls = [ApiCall(method="GET", path=target.path)]
    if target.kind == "deployment":
        calls.append(ApiCall(method="GET", path=collection_path("replicaset", target.namespace)))
    if action.type == "set_hpa" or target.kind == "horizontalpodautoscaler":
        calls.append(ApiCall(
            method="GET", path=collection_path("horizontalpodautoscaler", target.namespace)
        ))
    return calls
