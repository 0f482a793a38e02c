"""Render catalogue actions into the exact Kubernetes API calls, and their kubectl twins.

The shadow executor records these calls and the Kubernetes executor sends them, so what a
human approves is byte for byte what reaches the API server. Rendering is pure: anything it
must know about the cluster (ReplicaSets for an undo, the pods on a node for a drain) comes in
`state`, a dict with an `objects` list of raw API objects, as `KubernetesExecutor.capture_state`
returns it (and as `state_requests` says how to read it).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from warroom.agents.models import Action
from warroom.execute.ports import ApiCall
from warroom.kube.objects import RESTARTED_AT, REVISION

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# kind (as targets spell it, with the usual kubectl aliases) -> (canonical kind, API prefix, plural)
_KINDS: dict[str, tuple[str, str, str]] = {
    "deployment": ("deployment", "/apis/apps/v1", "deployments"),
    "statefulset": ("statefulset", "/apis/apps/v1", "statefulsets"),
    "daemonset": ("daemonset", "/apis/apps/v1", "daemonsets"),
    "replicaset": ("replicaset", "/apis/apps/v1", "replicasets"),
    "pod": ("pod", "/api/v1", "pods"),
    "node": ("node", "/api/v1", "nodes"),
    "horizontalpodautoscaler": (
        "horizontalpodautoscaler", "/apis/autoscaling/v2", "horizontalpodautoscalers"
    ),
}
_ALIASES = {
    "deploy": "deployment", "deployments": "deployment", "sts": "statefulset",
    "statefulsets": "statefulset", "ds": "daemonset", "daemonsets": "daemonset", "po": "pod",
    "pods": "pod", "no": "node", "nodes": "node", "hpa": "horizontalpodautoscaler",
    "horizontalpodautoscalers": "horizontalpodautoscaler", "rs": "replicaset",
}
_WORKLOADS = ("deployment", "statefulset", "daemonset")


class RenderError(ValueError):
    """The action cannot be turned into API calls (bad target, bad params, missing state)."""


@dataclass(frozen=True)
class Target:
    """A parsed `namespace/kind/name` target."""

    namespace: str
    kind: str
    name: str

    @property
    def path(self) -> str:
        """Return the object's API path."""
        return object_path(self.kind, self.name, self.namespace)

    @property
    def ref(self) -> str:
        """Return the kubectl `kind/name` reference."""
        return f"{self.kind}/{self.name}"


def object_path(kind: str, name: str, namespace: str = "") -> str:
    """Return the API path of one object of a known kind."""
    canonical, prefix, plural = _KINDS[kind]
    if canonical == "node":
        return f"{prefix}/nodes/{name}"
    return f"{prefix}/namespaces/{namespace}/{plural}/{name}"


def collection_path(kind: str, namespace: str = "") -> str:
    """Return the API path of the list of a kind, in a namespace or cluster-wide."""
    _, prefix, plural = _KINDS[kind]
    if namespace and kind != "node":
        return f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{prefix}/{plural}"


def parse_target(target: str | None, *, allowed: tuple[str, ...]) -> Target:
    """Parse `namespace/kind/name` (nodes: `/node/NAME`) and check the kind is allowed."""
    if not target:
        raise RenderError(f"the action needs a target of kind {' or '.join(allowed)}")
    parts = target.split("/")
    if len(parts) != 3 or not parts[2]:
        raise RenderError(f"target {target!r} is not namespace/kind/name")
    namespace, raw_kind, name = parts
    kind = _ALIASES.get(raw_kind.lower(), raw_kind.lower())
    if kind not in allowed:
        raise RenderError(f"target {target!r}: kind {raw_kind!r} is not one of {list(allowed)}")
    if kind == "node":
        namespace = ""
    elif not namespace:
        raise RenderError(f"target {target!r} has no namespace")
    return Target(namespace, kind, name)


def _ns(target: Target) -> str:
    return f"-n {target.namespace} " if target.namespace else ""


def _objects(state: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not state:
        return []
    objects = state.get("objects", [])
    return [o for o in objects if isinstance(o, dict)]


def _find(state: dict[str, Any] | None, kind: str, name: str, namespace: str) -> dict | None:
    for obj in _objects(state):
        meta = obj.get("metadata", {})
        if (
            obj.get("kind", "").lower() == kind
            and meta.get("name") == name
            and meta.get("namespace", "") == namespace
        ):
            return obj
    return None


def _guard(body: dict[str, Any], state: dict[str, Any] | None, target: Target) -> dict:
    """Add the state's resourceVersion as a precondition: a changed object answers 409."""
    seen = _find(state, target.kind, target.name, target.namespace)
    version = (seen or {}).get("metadata", {}).get("resourceVersion")
    if version:
        return {"metadata": {"resourceVersion": str(version)}, **body}
    return body


def _revision(obj: dict[str, Any]) -> int:
    raw = (obj.get("metadata", {}).get("annotations") or {}).get(REVISION, "0")
    try:
        return int(raw)
    except ValueError:
        return 0


def owned_replicasets(state: dict[str, Any] | None, deployment: Target) -> list[dict]:
    """Return the deployment's ReplicaSets from the state, oldest revision first."""
    found = []
    for obj in _objects(state):
        meta = obj.get("metadata", {})
        if obj.get("kind") != "ReplicaSet" or meta.get("namespace") != deployment.namespace:
            continue
        owners = meta.get("ownerReferences") or []
        if any(o.get("kind") == "Deployment" and o.get("name") == deployment.name for o in owners):
            found.append(obj)
    return sorted(found, key=_revision)


def _restart(action: Action, now: datetime, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=_WORKLOADS)
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = _guard({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}},
                  state, target)
    return [ApiCall(
        method="PATCH", path=target.path, body=body, content_type=STRATEGIC,
        kubectl=f"kubectl {_ns(target)}rollout restart {target.ref}",
    )]


def _undo(action: Action, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("deployment",))
    sets = owned_replicasets(state, target)
    if not sets:
        raise RenderError(
            f"rollout_undo of {action.target} needs state with the deployment's ReplicaSets"
        )
    deployment = _find(state, "deployment", target.name, target.namespace)
    current = _revision(deployment) if deployment else _revision(sets[-1])
    wanted = action.params.get("to_revision")
    if wanted is not None:
        try:
            wanted = int(wanted)
        except (TypeError, ValueError) as exc:
            raise RenderError(
                f"rollout_undo params.to_revision {wanted!r} is not a number"
            ) from exc
        chosen = [rs for rs in sets if _revision(rs) == wanted]
        if not chosen:
            have = [_revision(rs) for rs in sets]
            raise RenderError(f"{action.target} has no revision {wanted} (revisions: {have})")
    else:
        chosen = [rs for rs in sets if _revision(rs) < current]
        if not chosen:
            raise RenderError(f"{action.target} has no revision before {current} to roll back to")
    source = chosen[-1]
    template = copy.deepcopy(source.get("spec", {}).get("template", {}))
    labels = template.get("metadata", {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    body = [{"op": "replace", "path": "/spec/template", "value": template}]
    flag = f" --to-revision={_revision(source)}" if wanted is not None else ""
    return [ApiCall(
        method="PATCH", path=target.path, body=body, content_type=JSON_PATCH,
        kubectl=f"kubectl {_ns(target)}rollout undo {target.ref}{flag}",
    )]


def _scale(action: Action, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("deployment", "statefulset"))
    replicas = action.params.get("replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise RenderError(f"scale params.replicas must be a whole number >= 0, got {replicas!r}")
    return [ApiCall(
        method="PATCH", path=f"{target.path}/scale",
        body=_guard({"spec": {"replicas": replicas}}, state, target),
        content_type=MERGE,
        kubectl=f"kubectl {_ns(target)}scale {target.ref} --replicas={replicas}",
    )]


def _container_name(action: Action, target: Target, state: dict[str, Any] | None) -> str:
    if action.params.get("container"):
        return str(action.params["container"])
    workload = _find(state, target.kind, target.name, target.namespace)
    if workload:
        containers = workload.get("spec", {}).get("template", {}).get("spec", {}).get(
            "containers", []
        )
        if len(containers) == 1:
            return str(containers[0].get("name"))
    return target.name


def _set_resources(action: Action, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("deployment", "statefulset", "daemonset"))
    resources: dict[str, dict[str, str]] = {}
    for key in ("limits", "requests"):
        value = action.params.get(key)
        if value is None:
            continue
        if not isinstance(value, dict) or not value:
            raise RenderError(f"set_resources params.{key} must be a mapping like {{'memory': "
                              f"'768Mi'}}, got {value!r}")
        resources[key] = {str(k): str(v) for k, v in value.items()}
    if not resources:
        raise RenderError("set_resources needs params.limits or params.requests")
    container = _container_name(action, target, state)
    body = _guard({"spec": {"template": {"spec": {"containers": [
        {"name": container, "resources": resources}
    ]}}}}, state, target)
    flags = "".join(
        f" --{key}=" + ",".join(f"{k}={v}" for k, v in sorted(values.items()))
        for key, values in resources.items()
    )
    return [ApiCall(
        method="PATCH", path=target.path, body=body, content_type=STRATEGIC,
        kubectl=f"kubectl {_ns(target)}set resources {target.ref} -c {container}{flags}",
    )]


def _delete_pod(action: Action) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("pod",))
    return [ApiCall(
        method="DELETE", path=target.path, kubectl=f"kubectl {_ns(target)}delete pod {target.name}",
    )]


def _cordon(target: Target, state: dict[str, Any] | None) -> ApiCall:
    return ApiCall(
        method="PATCH", path=target.path,
        body=_guard({"spec": {"unschedulable": True}}, state, target),
        content_type=STRATEGIC, kubectl=f"kubectl cordon {target.name}",
    )


def pods_to_evict(state: dict[str, Any] | None, node: str) -> list[dict[str, Any]]:
    """Return the pods a drain evicts: on the node, not DaemonSet-owned, not mirror pods."""
    pods = []
    for obj in _objects(state):
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


def _drain(action: Action, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("node",))
    if state is None:
        raise RenderError(f"drain_node of {action.target} needs state with the node's pods")
    calls = [_cordon(target, state)]
    drain = f"kubectl drain {target.name} --ignore-daemonsets --delete-emptydir-data"
    for pod in pods_to_evict(state, target.name):
        meta = pod["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        calls.append(ApiCall(
            method="POST", path=f"/api/v1/namespaces/{ns}/pods/{name}/eviction",
            body={"apiVersion": "policy/v1", "kind": "Eviction",
                  "metadata": {"name": name, "namespace": ns}},
            kubectl=f"{drain}  # evicts {ns}/{name}",
        ))
    return calls


def hpa_for(state: dict[str, Any] | None, target: Target) -> str:
    """Return the name of the HPA that scales the target (its own name when it is an HPA)."""
    if target.kind == "horizontalpodautoscaler":
        return target.name
    for obj in _objects(state):
        if obj.get("kind") != "HorizontalPodAutoscaler":
            continue
        if obj.get("metadata", {}).get("namespace") != target.namespace:
            continue
        ref = obj.get("spec", {}).get("scaleTargetRef", {})
        if ref.get("kind", "").lower() == target.kind and ref.get("name") == target.name:
            return str(obj["metadata"]["name"])
    return target.name


def _set_hpa(action: Action, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(
        action.target, allowed=("horizontalpodautoscaler", "deployment", "statefulset")
    )
    spec: dict[str, Any] = {}
    for param, field in (("min_replicas", "minReplicas"), ("max_replicas", "maxReplicas")):
        value = action.params.get(param)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RenderError(f"set_hpa params.{param} must be a whole number >= 1, got {value!r}")
        spec[field] = value
    cpu = action.params.get("target_cpu_utilization")
    if cpu is not None:
        if isinstance(cpu, bool) or not isinstance(cpu, int) or not 1 <= cpu <= 100:
            raise RenderError(f"set_hpa params.target_cpu_utilization must be 1..100, got {cpu!r}")
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]
    if not spec:
        raise RenderError(
            "set_hpa needs one of params.min_replicas, max_replicas, target_cpu_utilization"
        )
    low, high = spec.get("minReplicas"), spec.get("maxReplicas")
    if low is not None and high is not None and low > high:
        raise RenderError("set_hpa params.min_replicas is above params.max_replicas")
    name = hpa_for(state, target)
    hpa = Target(target.namespace, "horizontalpodautoscaler", name)
    body = {"spec": spec}
    patch = json.dumps(body, separators=(",", ":"))
    body = _guard(body, state, hpa)
    return [ApiCall(
        method="PATCH", path=hpa.path, body=body, content_type=MERGE,
        kubectl=f"kubectl {_ns(hpa)}patch hpa {name} --type=merge -p '{patch}'",
    )]


def render_calls(
    action: Action, *, state: dict[str, Any] | None = None, now: datetime | None = None
) -> list[ApiCall]:
    """Return the exact API calls (and kubectl twins) that carry out a catalogue action.

    When `state` holds the object a PATCH changes, its resourceVersion goes into the patch as
    a precondition, so the call fails with 409 if the object changed since the state was read.
    Raises `RenderError` naming the bad target, parameter or missing state.
    """
    match action.type:
        case "escalate" | "no_action":
            return []
        case "rollout_restart":
            return _restart(action, now or datetime.now(UTC), state)
        case "rollout_undo":
            return _undo(action, state)
        case "scale":
            return _scale(action, state)
        case "set_resources":
            return _set_resources(action, state)
        case "delete_pod":
            return _delete_pod(action)
        case "cordon_node":
            return [_cordon(parse_target(action.target, allowed=("node",)), state)]
        case "drain_node":
            return _drain(action, state)
        case "set_hpa":
            return _set_hpa(action, state)
    raise RenderError(f"unknown action type {action.type!r}")


def kubectl_command(action: Action, *, state: dict[str, Any] | None = None) -> str:
    """Return the one kubectl line a human would type for the action (empty for none)."""
    if action.type == "drain_node":
        target = parse_target(action.target, allowed=("node",))
        return f"kubectl drain {target.name} --ignore-daemonsets --delete-emptydir-data"
    if action.type == "rollout_undo" and not owned_replicasets(
        state, parse_target(action.target, allowed=("deployment",))
    ):
        target = parse_target(action.target, allowed=("deployment",))
        rev = action.params.get("to_revision")
        flag = f" --to-revision={rev}" if rev is not None else ""
        return f"kubectl {_ns(target)}rollout undo {target.ref}{flag}"
    calls = render_calls(action, state=state)
    return calls[0].kubectl if calls else ""


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
        action.target, allowed=(*_WORKLOADS, "horizontalpodautoscaler")
    )
    calls = [ApiCall(method="GET", path=target.path)]
    if target.kind == "deployment":
        calls.append(ApiCall(method="GET", path=collection_path("replicaset", target.namespace)))
    if action.type == "set_hpa" or target.kind == "horizontalpodautoscaler":
        calls.append(ApiCall(
            method="GET", path=collection_path("horizontalpodautoscaler", target.namespace)
        ))
    return calls
