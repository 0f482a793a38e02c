"""The sandbox cluster: the shop, its control loops, traffic, faults, alerts and a clock.

Everything advances in ticks of simulated time (`advance`), so tests and recordings run as
fast as the CPU allows and the live runtime runs it accelerated against the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from warroom.kube.objects import describe_template_change
from warroom.sandbox.alerts import Evaluator, evaluate_rules
from warroom.sandbox.controllers import Controllers
from warroom.sandbox.events import Events
from warroom.sandbox.faults import (
    Fault,
    FaultError,
    Registry,
    behaviour,
    fault_params,
    resolve_target,
    rollout_patch,
)
from warroom.sandbox.kubelet import Kubelet
from warroom.sandbox.metrics import SeriesStore
from warroom.sandbox.model import Obj, ObjectStore, cpu_cores, strategic_merge_patch
from warroom.sandbox.shop import BY_NAME, build
from warroom.sandbox.traffic import ServiceView, Traffic

DEFAULT_START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
TRANSIENT_S = 120.0  # how long the "none" fault's blip lasts


class Sandbox:
    """A simulated Kubernetes cluster running the shop."""

    def __init__(self, *, seed: int = 7, start: datetime | None = None,
                 tick_seconds: float = 15.0, warmup_seconds: float = 600.0) -> None:
        self.seed = seed
        self.tick_seconds = tick_seconds
        self.now = (start or DEFAULT_START).astimezone(UTC).replace(microsecond=0)
        self.store = ObjectStore()
        self.events = Events(self.store)
        self.registry = Registry()
        self.faults: list[Fault] = []
        self.resolved_faults: list[Fault] = []
        self.series = SeriesStore()
        self.kubelet = Kubelet(self._behaviour, self.events.record)
        self.controllers = Controllers(self.store, self.events, self.kubelet, seed)
        self.traffic = Traffic(self.store, self.kubelet, self.series, self.registry, seed)
        self.alerts = Evaluator()
        self.outbox: list[dict[str, Any]] = []  # webhooks not yet delivered
        self.changes: list[dict[str, Any]] = []  # change feed (deploys, scaling, infra)
        self._fault_seq = 0
        build(self.store, self.now)
        if warmup_seconds > 0:
            self.advance(warmup_seconds)
            self.outbox.clear()

    def _behaviour(self, pod: Obj) -> Any:
        return behaviour(pod, self.faults, self.registry, self.now)

    # the clock ---------------------------------------------------------------------------
    def tick(self) -> None:
        """Advance one tick: controllers, kubelets, traffic, HPAs' inputs, alert rules."""
        dt = self.tick_seconds
        self.now += timedelta(seconds=dt)
        for fault in [f for f in self.faults if f.kind == "none"]:
            if (self.now - fault.started).total_seconds() > TRANSIENT_S:
                self.faults.remove(fault)
                self.resolved_faults.append(fault)
        self.controllers.reconcile(self.now, dt)
        views = self.traffic.step(self.now, dt, self.faults)
        self.controllers.cpu_utilization = self._hpa_inputs(views)
        found = evaluate_rules(self.store, self.series, self.now)
        self.outbox.extend(self.alerts.evaluate(found, self.now))

    def advance(self, seconds: float) -> None:
        """Run as many ticks as fit in the given simulated seconds."""
        for _ in range(max(1, round(seconds / self.tick_seconds))):
            self.tick()

    def _hpa_inputs(self, views: dict[str, ServiceView]) -> dict[tuple[str, str], float]:
        out = {}
        for name, view in views.items():
            spec = BY_NAME.get(name)
            if spec is None or not view.serving:
                continue
            out[(spec.namespace, name)] = view.cpu_ratio * cpu_cores(spec.cpu_limit) / cpu_cores(
                spec.cpu_request)
        return out

    # faults ------------------------------------------------------------------------------
    def inject(self, kind: str, *, service: str | None = None, namespace: str | None = None,
               severity: float = 0.8, onset_seconds: float = 0.0) -> Fault:
        """Inject a fault now; raise `FaultError` for an unknown class or unsuitable target."""
        if not 0 < severity <= 1:
            raise FaultError(f"severity must be in (0, 1], got {severity}")
        if onset_seconds < 0:
            raise FaultError(f"onset must be >= 0 seconds, got {onset_seconds}")
        ns, name = resolve_target(kind, service, namespace)
        spec = BY_NAME.get(name)
        workload = self.store.get(spec.kind, name, ns) if spec else None
        self._fault_seq += 1
        fault = Fault(id=f"f{self._fault_seq}", kind=kind, namespace=ns, service=name,
                      severity=severity, onset_s=onset_seconds, started=self.now,
                      params=fault_params(kind, workload))
        if kind in ("bad_deploy", "config_error", "image_pull_error", "probe_failure",
                    "unschedulable"):
            assert workload is not None
            patch = rollout_patch(fault, self.registry, workload)
            self.apply_patch(workload, patch)
        elif kind == "node_failure":
            self.controllers.node_down_since[name] = self.now
        self.faults.append(fault)
        return fault

    def clear(self, fault_id: str) -> Fault:
        """Remove an injected fault's ongoing cause (what a rollout fixed stays as it is)."""
        for fault in self.faults:
            if fault.id == fault_id:
                self.faults.remove(fault)
                self.resolved_faults.append(fault)
                if fault.kind == "node_failure":
                    self.controllers.node_down_since.pop(fault.service, None)
                return fault
        raise FaultError(f"no fault {fault_id!r} is injected")

    # writes (the REST layer calls these) -------------------------------------------------
    def apply_patch(self, obj: Obj, patch: Any) -> Obj:
        """Apply a strategic merge patch to a stored object and run the controllers."""
        merged = strategic_merge_patch(obj, patch)
        return self.replace(merged)

    def replace(self, obj: Obj) -> Obj:
        """Store a changed object (bumping generation and resourceVersion) and reconcile."""
        before = self.store.get(obj["kind"], obj["metadata"]["name"],
                                obj["metadata"].get("namespace", ""))
        stored = self.store.put(obj, self.now)
        if before is not None:
            self._note_change(before, stored)
        self.controllers.reconcile(self.now, 0.0)
        return stored

    def _note_change(self, before: Obj, after: Obj) -> None:
        kind = after["kind"].lower()
        meta = after["metadata"]
        target = f"{meta.get('namespace', '')}/{kind}/{meta['name']}"
        if before.get("spec", {}).get("template") != after.get("spec", {}).get("template"):
            description = describe_template_change(before, after)
            self.changes.append({"time": self.now, "target": target,
                                 "kind": "config" if description.startswith("env") else "deploy",
                                 "description": description})
        elif before.get("spec", {}).get("replicas") != after.get("spec", {}).get("replicas"):
            self.changes.append({"time": self.now, "kind": "scale", "target": target,
                                 "description": f"replicas {before['spec'].get('replicas')} -> "
                                 f"{after['spec'].get('replicas')}"})
        elif kind in ("node", "horizontalpodautoscaler") and before.get("spec") != after.get(
                "spec"):
            self.changes.append({"time": self.now, "kind": "infra" if kind == "node" else
                                 "scale", "target": target, "description": "spec changed"})

    def delete_pod(self, namespace: str, name: str, *, reason: str = "deleted") -> Obj | None:
        """Delete a pod as the API would; its controller recreates it."""
        pod = self.store.get("Pod", name, namespace)
        if pod is None:
            return None
        self.controllers.delete_pod(pod, self.now, reason=reason)
        self.controllers.reconcile(self.now, 0.0)
        return pod

    # views ----------------------------------------------------------------------------------
    def fault_list(self) -> list[dict[str, Any]]:
        """Return the faults in force."""
        return [f.as_dict() for f in self.faults]

    def firing(self) -> list[dict[str, Any]]:
        """Return the alerts firing now."""
        return list(self.alerts.firing.values())

    def pod_logs(self, namespace: str, name: str, *, previous: bool) -> list[str] | None:
        """Return a pod's current (or previous container's) log lines, or None if no pod."""
        pod = self.store.get("Pod", name, namespace)
        if pod is None:
            return None
        state = self.kubelet.container(pod)
        if state is None:
            return []
        return list(state.previous if previous else state.logs)
