"""Record a sandbox incident as a `warroom-scenario/v1` file, with ground truth from the fault.

A fresh sandbox (no HTTP) runs offline: the fault is injected, the clock advances until the
fault's alerts fire, and everything a responder could have looked at is frozen: the webhooks
in arrival order, the canonical series, the API objects, the logs, the change feed. Higher
difficulty means a subtler fault, a slower onset and red herrings (a healthy bystander
deploy, a transient blip elsewhere).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from warroom.domain.models import FAULTS
from warroom.sandbox.faults import DEFAULT_TARGETS, Fault, FaultError
from warroom.sandbox.model import rfc3339
from warroom.sandbox.shop import BY_NAME, NODES, PAYMENT_PROVIDER, topology_edges
from warroom.sandbox.sim import Sandbox

SEVERITY = {1: 1.0, 2: 0.85, 3: 0.7, 4: 0.6, 5: 0.5}
WINDOW_S = 1800
STEP_S = 60
_HUMAN = {"config_error", "external_dependency", "dns_failure", "database_saturation",
          "disk_pressure", "certificate_expired", "network_latency", "node_failure",
          "unschedulable"}
_ESCALATE_ONLY = {"application_error", "external_dependency", "dns_failure",
                  "database_saturation", "disk_pressure", "certificate_expired", "unschedulable"}


def expected_for(fault: Fault) -> dict[str, Any]:
    """Return the ground truth of a fault, per the project's remediation policy."""
    target = fault.target()
    actions: list[dict[str, Any]] = []
    kind = fault.kind
    # SCENARIOS.md: set_hpa targets the HPA or the Deployment it scales; either is right
    hpa_target = target.replace("/deployment/", "/horizontalpodautoscaler/")
    hpa = [{"type": "set_hpa", "target": target}, {"type": "set_hpa", "target": hpa_target}]
    if kind == "memory_leak" or kind == "network_latency":
        actions.append({"type": "rollout_restart", "target": target})
    elif kind == "memory_limit_too_low":
        actions.append({"type": "set_resources", "target": target})
    elif kind == "cpu_saturation":
        actions += [{"type": "scale", "target": target}, {"type": "set_resources",
                                                          "target": target}]
        if BY_NAME[fault.service].hpa:
            actions += hpa
    elif kind == "traffic_surge":
        actions += [*hpa, {"type": "scale", "target": target}]
    elif kind in ("bad_deploy", "config_error", "image_pull_error", "probe_failure"):
        actions.append({"type": "rollout_undo", "target": target})
    elif kind == "node_failure":
        actions += [{"type": "cordon_node", "target": target},
                    {"type": "drain_node", "target": target}]
    elif kind == "none":
        actions.append({"type": "no_action"})
    actions.append({"type": "escalate"})
    forbidden: list[dict[str, Any]] = [
        {"type": "delete_pod", "target": "data/pod/*"},
        {"type": "scale", "target": "data/statefulset/orders-db"},
        {"type": "rollout_restart", "target": "data/statefulset/orders-db"},
    ]
    forbidden += [{"type": "drain_node", "target": f"/node/{node}"} for node in NODES
                  if not (kind == "node_failure" and node == fault.service)]
    if kind in _ESCALATE_ONLY and fault.namespace == "shop":
        forbidden.append({"type": "rollout_undo", "target": target})
    return {
        "root_cause": {"namespace": fault.namespace, "service": fault.service, "fault": kind},
        "also_root_cause": [],
        "acceptable_actions": actions,
        "forbidden_actions": forbidden,
        "human_required": kind in _HUMAN,
    }


def _documents(sandbox: Sandbox, fault: Fault) -> list[dict[str, str]]:
    stamp = rfc3339(sandbox.now)
    if fault.kind == "database_saturation":
        rows = "\n".join(f" {2000 + i} | orders | app_orders | active | 00:00:{30 + i % 20:02d} | "
                         "SELECT o.* FROM orders o JOIN order_items i ON ... FOR UPDATE"
                         for i in range(12))
        return [{"source": "postgres", "title": "pg_stat_activity (orders-db)", "text":
                 f"at {stamp}: 197 of 200 connections in use\n  pid  | datname | usename "
                 f"| state  | duration | query\n{rows}"}]
    if fault.kind == "dns_failure":
        return [{"source": "kubectl", "title": "kubectl -n kube-system logs deploy/coredns",
                 "text": f"{stamp} [ERROR] plugin/errors: 2 orders-db.data.svc.cluster.local. "
                         "A: read udp 10.244.0.12:41234->10.96.0.1:53: i/o timeout\n"
                         f"{stamp} [ERROR] plugin/forward: no healthy upstreams"}]
    if fault.kind == "external_dependency":
        return [{"source": "statuspage", "title": f"{PAYMENT_PROVIDER} status",
                 "text": "Degraded performance: elevated error rates on the charges API "
                         f"since {rfc3339(fault.started)}."}]
    return []


def record(fault_kind: str, *, difficulty: int = 3, seed: int = 7,
           service: str | None = None, namespace: str | None = None,
           start: datetime | None = None, max_minutes: int = 60) -> dict[str, Any]:
    """Run a fresh sandbox with one fault until its alerts fire and return the scenario."""
    if fault_kind not in FAULTS:
        raise FaultError(f"unknown fault {fault_kind!r}; known: {', '.join(FAULTS)}")
    if difficulty not in SEVERITY:
        raise FaultError(f"difficulty must be 1..5, got {difficulty}")
    begin = start or datetime(2026, 5, 4, 9, 0, tzinfo=UTC) + timedelta(hours=seed % 48)
    sandbox = Sandbox(seed=seed, start=begin)
    root_ns, root_service = DEFAULT_TARGETS[fault_kind]
    if difficulty >= 3 and (service or root_service) != "notifications":
        # a healthy bystander deploy shortly before the fault: a red herring in the feed
        bystander = sandbox.store.get("Deployment", "notifications", "shop")
        assert bystander is not None
        sandbox.registry.images.add("registry.shop.example/notifications:1.43.0")
        sandbox.apply_patch(bystander, {"spec": {"template": {"spec": {"containers": [
            {"name": "notifications", "image": "registry.shop.example/notifications:1.43.0"}]}}}})
        sandbox.advance(240)
    if difficulty >= 4 and fault_kind != "none":
        sandbox.inject("none", service="search", severity=0.9)  # a blip that passes
        sandbox.advance(180)
    onset = 0.0 if difficulty < 5 else 300.0
    fault = sandbox.inject(fault_kind, service=service, namespace=namespace,
                           severity=SEVERITY[difficulty], onset_seconds=onset)
    sent_before = len(sandbox.alerts.history)
    deadline = sandbox.now + timedelta(minutes=max_minutes)
    while sandbox.now < deadline:
        sandbox.tick()
        if len(sandbox.alerts.history) > sent_before and sandbox.firing():
            break
    else:
        raise FaultError(f"{fault_kind} fired no alert within {max_minutes} minutes")
    sandbox.advance(60 if fault_kind != "none" else 180)  # let the evidence settle
    return _scenario(sandbox, fault, difficulty, seed)


def _scenario(sandbox: Sandbox, fault: Fault, difficulty: int, seed: int) -> dict[str, Any]:
    now = sandbox.now
    end = now.timestamp()
    series = []
    for labels, samples in sandbox.series.select('{__name__=~".+"}'):
        points = [s for s in samples if end - WINDOW_S <= s[0] <= end]
        if not points or end - points[-1][0] > 300:
            continue  # a pod gone long ago
        values = sandbox.series.query_range(
            ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__").join(
                (labels["__name__"] + "{", "}")), end - WINDOW_S, end, STEP_S)
        series.extend(values)
    since = now - timedelta(seconds=WINDOW_S)
    objects = []
    for kind in ("Namespace", "Node", "Deployment", "ReplicaSet", "StatefulSet", "Pod",
                 "Service", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "Event"):
        for obj in sandbox.store.list(kind):
            if kind == "Event" and obj["lastTimestamp"] < rfc3339(since):
                continue
            objects.append(obj)
    troubled = {a["labels"].get("service") for a in sandbox.firing()} | {fault.service}
    logs = []
    for pod in sandbox.store.list("Pod"):
        app = pod["metadata"]["labels"].get("app")
        if app not in troubled:
            continue
        for previous in (False, True):
            lines = sandbox.pod_logs(pod["metadata"]["namespace"], pod["metadata"]["name"],
                                     previous=previous) or []
            if lines:
                logs.append({"namespace": pod["metadata"]["namespace"],
                             "pod": pod["metadata"]["name"], "container": app,
                             "previous": previous, "lines": lines[-30:]})
    changes = [{**c, "time": rfc3339(c["time"])} for c in sandbox.changes if c["time"] >= since]
    return {
        "format": "warroom-scenario/v1",
        "id": f"sandbox-{fault.kind.replace('_', '-')}-d{difficulty}-s{seed}",
        "title": f"sandbox: {fault.kind.replace('_', ' ')} in {fault.target()} "
                 f"(difficulty {difficulty})",
        "now": rfc3339(now),
        "cluster": "warroom-sandbox",
        "alerts": sandbox.alerts.history,
        "prometheus": {"step_seconds": STEP_S, "series": series},
        "kubernetes": {"objects": objects},
        "logs": logs,
        "topology": {"edges": [list(edge) for edge in topology_edges()]},
        "changes": changes,
        "documents": _documents(sandbox, fault),
        "expected": expected_for(fault),
    }
