"""Render catalogue actions into the exact Kubernetes API calls, and their kubectl twins.

The shadow executor records these calls and the Kubernetes executor sends them, so what a
human approves is byte for byte what reaches the API server. Rendering is pure: anything it
must know about the cluster (ReplicaSets for an undo, the pods on a node for a drain) comes in
`state`, a dict with an `objects` list of raw API objects, as `KubernetesExecutor.capture_state`
returns it (and as `domain.call_state.state_requests` says how to read it). Targets and their API
paths are `domain.targets`. It is vocabulary, not execution: the Solver renders each proposal's
kubectl twin for the humans reading it with the same table the executors send.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from warroom.domain.call_state import (
    find,
    guard,
    hpa_for,
    owned_replicasets,
    pods_to_evict,
    revision,
)
from warroom.domain.models import Action, ApiCall
from warroom.domain.targets import (
    RESTARTED_AT,
    WORKLOADS,
    RenderError,
    Target,
    ns_flag,
    parse_target,
)

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def _restart(action: Action, now: datetime, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=WORKLOADS)
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = guard({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}},
                  state, target)
    return [ApiCall(
        method="PATCH", path=target.path, body=body, content_type=STRATEGIC,
        kubectl=f"kubectl {ns_flag(target)}rollout restart {target.ref}",
    )]


def _undo(action: Action, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("deployment",))
    sets = owned_replicasets(state, target)
    if not sets:
        raise RenderError(
            f"rollout_undo of {action.target} needs state with the deployment's ReplicaSets"
        )
    deployment = find(state, "deployment", target.name, target.namespace)
    current = revision(deployment) if deployment else revision(sets[-1])
    wanted = action.params.get("to_revision")
    if wanted is not None:
        try:
            wanted = int(wanted)
        except (TypeError, ValueError) as exc:
            raise RenderError(
                f"rollout_undo params.to_revision {wanted!r} is not a number"
            ) from exc
        chosen = [rs for rs in sets if revision(rs) == wanted]
        if not chosen:
            have = [revision(rs) for rs in sets]
            raise RenderError(f"{action.target} has no revision {wanted} (revisions: {have})")
    else:
        chosen = [rs for rs in sets if revision(rs) < current]
        if not chosen:
            raise RenderError(f"{action.target} has no revision before {current} to roll back to")
    source = chosen[-1]
    template = copy.deepcopy(source.get("spec", {}).get("template", {}))
    labels = template.get("metadata", {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    body = [{"op": "replace", "path": "/spec/template", "value": template}]
    flag = f" --to-revision={revision(source)}" if wanted is not None else ""
    return [ApiCall(
        method="PATCH", path=target.path, body=body, content_type=JSON_PATCH,
        kubectl=f"kubectl {ns_flag(target)}rollout undo {target.ref}{flag}",
    )]


def _scale(action: Action, state: dict[str, Any] | None) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("deployment", "statefulset"))
    replicas = action.params.get("replicas")
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise RenderError(f"scale params.replicas must be a whole number >= 0, got {replicas!r}")
    return [ApiCall(
        method="PATCH", path=f"{target.path}/scale",
        body=guard({"spec": {"replicas": replicas}}, state, target),
        content_type=MERGE,
        kubectl=f"kubectl {ns_flag(target)}scale {target.ref} --replicas={replicas}",
    )]


def _container_name(action: Action, target: Target, state: dict[str, Any] | None) -> str:
    if action.params.get("container"):
        return str(action.params["container"])
    workload = find(state, target.kind, target.name, target.namespace)
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
    body = guard({"spec": {"template": {"spec": {"containers": [
        {"name": container, "resources": resources}
    ]}}}}, state, target)
    flags = "".join(
        f" --{key}=" + ",".join(f"{k}={v}" for k, v in sorted(values.items()))
        for key, values in resources.items()
    )
    return [ApiCall(
        method="PATCH", path=target.path, body=body, content_type=STRATEGIC,
        kubectl=f"kubectl {ns_flag(target)}set resources {target.ref} -c {container}{flags}",
    )]


def _delete_pod(action: Action) -> list[ApiCall]:
    target = parse_target(action.target, allowed=("pod",))
    return [ApiCall(
        method="DELETE", path=target.path,
        kubectl=f"kubectl {ns_flag(target)}delete pod {target.name}",
    )]


def _cordon(target: Target, state: dict[str, Any] | None) -> ApiCall:
    return ApiCall(
        method="PATCH", path=target.path,
        body=guard({"spec": {"unschedulable": True}}, state, target),
        content_type=STRATEGIC, kubectl=f"kubectl cordon {target.name}",
    )


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
    body = guard(body, state, hpa)
    return [ApiCall(
        method="PATCH", path=hpa.path, body=body, content_type=MERGE,
        kubectl=f"kubectl {ns_flag(hpa)}patch hpa {name} --type=merge -p '{patch}'",
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
        return f"kubectl {ns_flag(target)}rollout undo {target.ref}{flag}"
    calls = render_calls(action, state=state)
    return calls[0].kubectl if calls else ""


