"""Hard safety rules: what no plan may ever do, checked by the Reviewer and again by executors.

`check_action(action)` needs nothing but the action. With a `RuleContext` (the evidence's
Kubernetes objects and the workloads the hypotheses name) it also catches the rules that need
facts: deleting a StatefulSet pod, draining a healthy node, touching a healthy bystander, rolling
back to a revision an earlier rollback removed. Given the ranked hypotheses and the call graph
too, it holds a mutating action to the top-ranked root cause: never another place, never a
caller of it (a victim of its callee's fault), and never while that localisation is unsure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from warroom.domain.models import ACTION_TYPES, Action, Hypothesis, RuleViolation
from warroom.safety.revisions import rolled_back_from, undo_target

# catalogue: which kinds each action may target (None = the action takes no target)
TARGET_KINDS: dict[str, frozenset[str] | None] = {
    "rollout_restart": frozenset({"deployment", "statefulset", "daemonset"}),
    "rollout_undo": frozenset({"deployment"}),
    "scale": frozenset({"deployment", "statefulset"}),
    "set_resources": frozenset({"deployment", "statefulset"}),
    "delete_pod": frozenset({"pod"}),
    "cordon_node": frozenset({"node"}),
    "drain_node": frozenset({"node"}),
    "set_hpa": frozenset({"horizontalpodautoscaler", "deployment"}),
    "escalate": None,
    "no_action": None,
}
FORBIDDEN_KINDS = frozenset({
    "namespace", "persistentvolumeclaim", "persistentvolume", "secret", "role", "rolebinding",
    "clusterrole", "clusterrolebinding", "serviceaccount", "customresourcedefinition",
    "storageclass", "mutatingwebhookconfiguration", "validatingwebhookconfiguration",
})
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
_DB_WORDS = re.compile(
    r"(^|[-_.])(db|database|postgres|postgresql|pg|mysql|mariadb|mongo|mongodb|redis|"
    r"etcd|cassandra|elasticsearch|opensearch|kafka|zookeeper|rabbitmq|clickhouse|cockroach)"
    r"(\d*)($|[-_.])"
)
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
_ORDINAL_POD = re.compile(r"-\d+$")
# Hypothesis confidences are calibrated probabilities that the hypothesis is right. Under 0.4
# the Diagnostician abstains; under 0.6 the Solver already rates even a low-blast fix riskier;
# 0.7 is where the owning team is trusted; 0.8 allows running without a human. A change to a
# workload needs its place to be right clearly more often than not: at least 0.6, so at most
# about two in five approved changes could land on the wrong service, and never without a human
# (that takes 0.8). Below it a human gets the ranked places instead.
LOCALISATION_MIN_CONFIDENCE = 0.6
NON_MUTATING = frozenset({"escalate", "no_action"})
# parameters that could smuggle a second, uncatalogued operation into an action
_SMUGGLING_PARAMS = frozenset({"command", "args", "script", "delete", "exec", "shell", "manifest"})


@dataclass
class Target:
    namespace: str
    kind: str
    name: str


@dataclass
class RuleContext:
    """Facts the rules may consult: the evidence's objects and the workloads under suspicion."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    # (namespace, name) pairs the hypotheses name; None means "do not check bystanders"
    named: set[tuple[str, str]] | None = None
    # the ranked hypotheses, best first; None means "do not check localisation"
    ranked: list[Hypothesis] | None = None
    topology: list[tuple[str, str]] = field(default_factory=list)  # caller -> callee


def parse_target(target: str) -> Target | None:
    """Split `namespace/kind/name` (nodes: `/node/NAME`); None when malformed."""
    parts = target.split("/")
    if len(parts) != 3:
        return None
    namespace, kind, name = parts
    return Target(namespace=namespace, kind=kind, name=name)


def is_database_name(name: str) -> bool:
    """Tell whether a workload name looks like a database or another stateful data store."""
    return bool(_DB_WORDS.search(name.lower()))


def check_action(action: Action, context: RuleContext | None = None) -> list[RuleViolation]:
    """Return every hard rule the action breaks; an empty list means it is allowed."""
    out: list[RuleViolation] = []

    def bad(rule: str, message: str) -> None:
        out.append(RuleViolation(rule=rule, message=message))

    if action.type not in ACTION_TYPES:
        bad("catalogue", f"action type {action.type!r} is not in the action catalogue")
        return out
    kinds = TARGET_KINDS[action.type]
    for key in action.params:
        if key.lower() in _SMUGGLING_PARAMS:
            bad("catalogue", f"parameter {key!r} is not part of the {action.type} action")
    if kinds is None:
        if action.target:
            bad("catalogue", f"{action.type} takes no target, got {action.target!r}")
        return out
    if not action.target:
        bad("target", f"{action.type} needs a target namespace/kind/name")
        return out
    target = parse_target(action.target)
    if target is None:
        bad("target", f"target {action.target!r} is not namespace/kind/name")
        return out
    if "*" in action.target or not target.name:
        bad("cluster_wide", f"target {action.target!r} names no single object")
        return out
    if target.kind in FORBIDDEN_KINDS:
        bad("forbidden_kind", f"{action.type} on a {target.kind} is never allowed")
        return out
    if target.kind not in kinds:
        bad("catalogue", f"{action.type} cannot target a {target.kind} (allowed: "
            f"{', '.join(sorted(kinds))})")
        return out
    if not _NAME.match(target.name) or (target.namespace and not _NAME.match(target.namespace)):
        bad("target", f"target {action.target!r} is not a valid Kubernetes name")
    if target.kind == "node":
        if target.namespace:
            bad("target", f"nodes are not namespaced: use /node/{target.name}")
    elif not target.namespace:
        bad("cluster_wide", f"{action.type} on {target.kind} {target.name} names no namespace")
    elif target.namespace in SYSTEM_NAMESPACES:
        bad("system_namespace", f"{action.type} in {target.namespace} is never automated")
    _check_params(action, bad)
    _check_stateful(action, target, context, bad)
    if context is not None:
        _check_facts(action, target, context, bad)
        _check_localisation(action, target, context, bad, out)
    return out


def callers_of(edges: Iterable[tuple[str, str]], service: str) -> set[str]:
    """Return every service that calls `service`, directly or through others."""
    edges = list(edges)
    seen: set[str] = set()
    todo = [service]
    while todo:
        callee = todo.pop()
        for caller, other in edges:
            if other == callee and caller not in seen:
                seen.add(caller)
                todo.append(caller)
    seen.discard(service)
    return seen


def _acts_on(target: Target, name: str, objects: list[dict[str, Any]]) -> bool:
    """Tell whether an action on `target` changes the workload or node called `name`."""
    if target.kind == "pod":
        return _pod_of(target.name, name)
    if target.kind == "horizontalpodautoscaler":
        hpa = _find(objects, "HorizontalPodAutoscaler", target.namespace, target.name)
        scaled = ((hpa or {}).get("spec") or {}).get("scaleTargetRef") or {}
        return name in (target.name, scaled.get("name"))
    return target.name == name


def _check_localisation(action: Action, target: Target, ctx: RuleContext, bad: Any,
                        found: list[RuleViolation]) -> None:
    """Let a mutating action change only the top-ranked root cause, and only a confident one."""
    if ctx.ranked is None or action.type in NON_MUTATING:
        return
    if not ctx.ranked:
        bad("no_root_cause", f"{action.type} {action.target}: no root cause is ranked, so "
            "nothing may be changed")
        return
    top = ctx.ranked[0]
    where = f"{top.namespace}/{top.service}" if top.namespace else top.service
    on_top = _acts_on(target, top.service, ctx.objects) and (
        target.kind == "node" or target.namespace == top.namespace)
    if not on_top:
        callers = sorted(c for c in callers_of(ctx.topology, top.service)
                         if _acts_on(target, c, ctx.objects))
        if callers:
            bad("caller_for_callee", f"{action.target} belongs to {callers[0]}, which calls "
                f"{where}, the top-ranked root cause ({top.fault}): changing a caller for its "
                "callee's fault is refused")
        elif not any(v.rule == "bystander" for v in found):  # said once is enough
            bad("not_top_cause", f"{action.target} is not the top-ranked root cause {where} "
                f"({top.fault}): a change may only target it")
    if top.confidence < LOCALISATION_MIN_CONFIDENCE:
        bad("unsure_localisation", f"the top-ranked root cause {where} ({top.fault}) has "
            f"confidence {top.confidence:.2f}, under {LOCALISATION_MIN_CONFIDENCE}: not sure "
            "enough of the place to change anything there")


def _check_params(action: Action, bad: Any) -> None:
    p = action.params
    if action.type == "scale":
        replicas = p.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            bad("params", "scale needs an integer `replicas`")
        elif replicas <= 0:
            bad("scale_to_zero", f"scaling to {replicas} replicas takes the workload down")
    elif action.type == "set_hpa":
        for key in ("min_replicas", "max_replicas"):
            value = p.get(key)
            if value is not None and (not isinstance(value, int) or value <= 0):
                bad("scale_to_zero", f"set_hpa {key}={value!r} must be a positive integer")
        lo, hi = p.get("min_replicas"), p.get("max_replicas")
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            bad("params", f"set_hpa min_replicas {lo} exceeds max_replicas {hi}")
        cpu = p.get("target_cpu_utilization")
        if cpu is not None and (not isinstance(cpu, int) or not 1 <= cpu <= 100):
            bad("params", f"target_cpu_utilization {cpu!r} must be 1..100")
    elif action.type == "set_resources":
        if not p.get("container"):
            bad("params", "set_resources needs the `container` to change")
        for section in ("limits", "requests"):
            values = p.get(section) or {}
            if not isinstance(values, dict):
                bad("params", f"set_resources `{section}` must be a mapping")
                continue
            for resource, quantity in values.items():
                if resource not in ("cpu", "memory", "ephemeral-storage"):
                    bad("params", f"set_resources cannot change {resource!r}")
                elif not _QUANTITY.match(str(quantity)) or _is_zero(str(quantity)):
                    bad("params", f"{section}.{resource}={quantity!r} is not a usable quantity")
        if not p.get("limits") and not p.get("requests"):
            bad("params", "set_resources changes nothing: give `limits` or `requests`")
    elif action.type == "rollout_undo":
        rev = p.get("to_revision")
        if rev is not None and (not isinstance(rev, int) or rev <= 0):
            bad("params", f"to_revision {rev!r} must be a positive revision number")


def _is_zero(quantity: str) -> bool:
    digits = re.match(r"^\d+(\.\d+)?", quantity)
    return digits is not None and float(digits.group(0)) == 0


def _check_stateful(action: Action, target: Target, context: RuleContext | None,
                    bad: Any) -> None:
    """Refuse restarting, resizing or scaling databases, and deleting StatefulSet pods."""
    if action.type == "delete_pod":
        owner = _pod_owner_kind(target, context.objects if context else [])
        if owner == "StatefulSet" or (owner is None and (
                _ORDINAL_POD.search(target.name) or is_database_name(target.name))):
            bad("stateful_pod", f"deleting pod {target.name} of a StatefulSet or database "
                "risks its data and identity")
        return
    if action.type in ("rollout_restart", "scale", "set_resources"):
        database = is_database_name(target.name)
        if target.kind in ("statefulset", "deployment") and context is not None:
            kind = "StatefulSet" if target.kind == "statefulset" else "Deployment"
            obj = _find(context.objects, kind, target.namespace, target.name)
            # a workload the evidence holds only through its pods is judged by what they run
            seen = [obj] if obj is not None else [
                o for o in context.objects if o.get("kind") == "Pod"
                and (o.get("metadata") or {}).get("namespace", "") == target.namespace
                and _pod_of(str((o.get("metadata") or {}).get("name", "")), target.name)]
            database = database or any(_looks_like_database(o) for o in seen)
        if database and target.kind in ("statefulset", "deployment"):
            bad("database", f"{action.type} of database {target.namespace}/{target.name} "
                "is never automated")


def _check_facts(action: Action, target: Target, ctx: RuleContext, bad: Any) -> None:
    if action.type == "drain_node":
        node = _find(ctx.objects, "Node", "", target.name)
        if node is not None and node_healthy(node):
            bad("healthy_node", f"node {target.name} is Ready with no pressure: draining it "
                "evicts healthy workloads")
    if action.type == "rollout_undo":
        wanted = action.params.get("to_revision")
        goal = undo_target(ctx.objects, target.namespace, target.name,
                           wanted if isinstance(wanted, int) else None)
        if goal is not None and goal in rolled_back_from(ctx.objects, target.namespace,
                                                         target.name):
            bad("undone_revision", f"revision {goal} of {target.namespace}/{target.name} was "
                "already rolled back from: undoing to it brings back what that rollback removed")
    if ctx.named is None:
        return
    named_names = {name for _, name in ctx.named}
    if target.kind == "node":
        ok = ("", target.name) in ctx.named or target.name in named_names
    elif target.kind == "pod":
        ok = any(ns == target.namespace and _pod_of(target.name, name) for ns, name in ctx.named)
    elif target.kind == "horizontalpodautoscaler":
        hpa = _find(ctx.objects, "HorizontalPodAutoscaler", target.namespace, target.name)
        scaled = ((hpa or {}).get("spec") or {}).get("scaleTargetRef") or {}
        ok = (target.namespace, target.name) in ctx.named or (
            target.namespace, scaled.get("name", "")) in ctx.named
    else:
        ok = (target.namespace, target.name) in ctx.named
    if not ok:
        bad("bystander", f"{action.target} is not named by any hypothesis: acting on a "
            "bystander is not allowed")


def _pod_of(pod: str, workload: str) -> bool:
    return pod == workload or pod.startswith(workload + "-")


def _find(objects: Iterable[dict[str, Any]], kind: str, namespace: str,
          name: str) -> dict[str, Any] | None:
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == kind and meta.get("name") == name and (
                kind == "Node" or meta.get("namespace", "") == namespace):
            return obj
    return None


def _pod_owner_kind(target: Target, objects: list[dict[str, Any]]) -> str | None:
    pod = _find(objects, "Pod", target.namespace, target.name)
    if pod is None:
        return None
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    return str(owners[0].get("kind")) if owners else "none"


def _looks_like_database(obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    words = [meta.get("name", ""), *map(str, (meta.get("labels") or {}).values())]
    spec = obj.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or spec).get("containers") or []
    words += [str(c.get("image", "")).rsplit("/", 1)[-1].split(":")[0] for c in containers]
    return any(is_database_name(w) for w in words if w)


def node_healthy(node: dict[str, Any]) -> bool:
    """Tell whether a Node reports Ready, no pressure, and is schedulable."""
    conditions = (node.get("status") or {}).get("conditions") or []
    for cond in conditions:
        kind, status = cond.get("type"), cond.get("status")
        if kind == "Ready" and status != "True":
            return False
        if kind in ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable") and (
                status == "True"):
            return False
    spec = node.get("spec") or {}
    return not spec.get("unschedulable") and bool(conditions)
