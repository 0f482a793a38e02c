"""The `kube_state` transform: the cluster's state as kube-state-metrics exports it, no objects.

A setup whose warroom may not read the Kubernetes API (no RBAC for it, another team's
cluster) still has what kube-prometheus scrapes from kube-state-metrics: one gauge per fact
the API holds about a pod, container, node or workload. This transform turns each scenario's
objects into those series over the scenario's window, with the exporter's documented names and
labels, and removes the objects. Events are gone with them: kube-state-metrics exports none.

Each gauge holds the value the object gives at `now` from the time the object says that state
began (a condition's `lastTransitionTime`, a container's `finishedAt` or `startedAt`, a pod's
`creationTimestamp`) and the healthy value before it; a state older than the window holds over
all of it. A container's restarts are a counter that reaches `restartCount` at its last
termination. A workload's generation rises when its newest ReplicaSet was created (a rollout
creates one), and its available replicas count its pods ready at each step.

On half the scenarios (by the seed) the series are scraped as a plain Prometheus job without
`honor_labels`: the subject's `namespace`, `pod` and `container` become `exported_*`, and the
exporter's own pod, namespace and container take their place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from warroom.agents.diagnostician.objects import meta, parse_time
from warroom.scenarios.models import PrometheusData, Scenario
from warroom.scenarios.transforms_world import rng_for
from warroom.sensors.models import Series

STEP = 60.0
_WINDOW = 45 * 60.0  # when the scenario has no series to take its window from
_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
_EXPORTER = {"job": "kube-state-metrics", "namespace": "monitoring",
             "pod": "kube-state-metrics-6d8f9c7b54-q2w7x", "container": "kube-state-metrics",
             "instance": "10.0.3.17:8080", "endpoint": "http-metrics"}
_SUBJECT = ("namespace", "pod", "container")
ValueAt = Callable[[float], float]  # a gauge's value at a time
_HEALTHY_NODE = {"Ready": "true"}  # every other node condition is healthy when false
# the reasons `kube_pod_status_reason` exports (a pod's, not a container's)
_POD_REASONS = ("Evicted", "NodeAffinity", "NodeLost", "Shutdown", "UnexpectedAdmissionError")


class _Gauges:
    """Collect gauges over the window's steps."""

    def __init__(self, times: list[float], exported: bool) -> None:
        self.times = times
        self.exported = exported
        self.series: list[Series] = []

    def add(self, name: str, labels: dict[str, str], value_at: ValueAt,
            since: float | None = None) -> None:
        """Add a gauge whose value at each step is `value_at(t)`, present from `since` on."""
        pts = [(t, float(value_at(t))) for t in self.times if since is None or t >= since]
        if not pts:
            return
        metric = {"__name__": name, **self._scraped(labels)}
        self.series.append(Series(metric=metric, values=[(t, _fmt(v)) for t, v in pts]))

    def _scraped(self, labels: dict[str, str]) -> dict[str, str]:
        if not self.exported:
            return {**labels, "job": _EXPORTER["job"], "instance": _EXPORTER["instance"]}
        renamed = {(f"exported_{k}" if k in _SUBJECT else k): v for k, v in labels.items()}
        return {**renamed, **_EXPORTER}


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6g}"


def _ts(text: Any) -> float | None:
    """Return an object's RFC 3339 stamp as unix seconds, or None when it has none."""
    at = parse_time(text)
    return at.timestamp() if at is not None else None


def _const(value: float) -> ValueAt:
    return lambda t: value


def _step(since: float | None, now_value: float, before: float) -> ValueAt:
    """Return the value function of a gauge that holds `now_value` from `since`, `before`
    earlier (the whole window when `since` is unknown)."""
    return lambda t: now_value if since is None or t >= since else before


def _count(gauges: list[ValueAt]) -> ValueAt:
    """Return how many of the 0/1 gauges are set at a time."""
    return lambda t: float(sum(fn(t) >= 1 for fn in gauges))


def _window(scenario: Scenario) -> list[float]:
    end = scenario.now.timestamp()
    starts = [s.values[0][0] for s in scenario.prometheus.series if s.values]
    start = max(min(starts), end - 6 * 3600) if starts else end - _WINDOW
    n = int((end - start) // STEP)
    return [end - STEP * i for i in range(n, -1, -1)]


def _owner(o: dict[str, Any]) -> dict[str, Any]:
    """Return an object's first owner reference (empty when it has none)."""
    refs: list[dict[str, Any]] = meta(o).get("ownerReferences") or []
    return refs[0] if refs else {}


def _conditions(o: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("type")): c for c in (o.get("status") or {}).get("conditions") or []}


def _pod(g: _Gauges, pod: dict[str, Any], ready: dict[tuple[str, str], ValueAt]) -> None:
    m, spec, status = meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    ns, name = str(m.get("namespace", "")), str(m.get("name", ""))
    created = _ts(m.get("creationTimestamp"))
    subject = {"namespace": ns, "pod": name, "uid": str(m.get("uid", ""))}
    owner = _owner(pod)
    g.add("kube_pod_info", {**subject, "node": str(spec.get("nodeName", "")),
                            "created_by_kind": str(owner.get("kind", "")),
                            "created_by_name": str(owner.get("name", ""))}, _const(1), created)
    if owner:
        g.add("kube_pod_owner", {**subject, "owner_kind": str(owner.get("kind", "")),
                                 "owner_name": str(owner.get("name", "")),
                                 "owner_is_controller": "true"}, _const(1), created)
    conds = _conditions(pod)
    phase = str(status.get("phase", "Running"))
    ready_cond = conds.get("Ready") or {}
    # a pod that failed or lost its node ran before; one Pending since it was created never did
    phase_since = _ts(ready_cond.get("lastTransitionTime")) if phase in ("Failed", "Unknown") \
        else None
    for p in _PHASES:
        was = 1.0 if p == "Running" else 0.0
        g.add("kube_pod_status_phase", {**subject, "phase": p},
              _step(phase_since, float(p == phase), was), created)
    if ready_cond:
        is_ready = ready_cond.get("status") == "True"
        since = _ts(ready_cond.get("lastTransitionTime"))
        ready[(ns, name)] = _step(since, float(is_ready), float(not is_ready))
        g.add("kube_pod_status_ready", {**subject, "condition": "true"}, ready[(ns, name)],
              created)
        g.add("kube_pod_status_ready", {**subject, "condition": "false"},
              _step(since, float(not is_ready), float(is_ready)), created)
    sched = conds.get("PodScheduled") or {}
    if sched:
        ok = sched.get("status") == "True"
        since = _ts(sched.get("lastTransitionTime"))
        for cond in ("true", "false"):
            g.add("kube_pod_status_scheduled", {**subject, "condition": cond},
                  _step(since, float(ok == (cond == "true")), float(cond == "true")), created)
        if not ok and sched.get("reason") == "Unschedulable":
            g.add("kube_pod_status_unschedulable", subject, _const(1), since or created)
    reason = str(status.get("reason") or "")
    started_pod = _ts(status.get("startTime")) or created
    statuses = list(status.get("containerStatuses") or [])
    if reason in _POD_REASONS:
        g.add("kube_pod_status_reason", {**subject, "reason": reason}, _const(1),
              phase_since or created)
    elif reason and not statuses:
        # kubectl's STATUS column (`CrashLoopBackOff`, `Init:ImagePullBackOff`) is a container's
        # waiting reason, which is where kube-state-metrics keeps it
        containers: list[dict[str, Any]] = spec.get("containers") or [{}]
        statuses = [{"name": containers[0].get("name", name), "ready": False,
                     "state": {"waiting": {"reason": reason.rsplit(":", 1)[-1]}}}]
    for cs in statuses:
        _container(g, {**subject, "container": str(cs.get("name", ""))}, cs, started_pod)


def _container(g: _Gauges, labels: dict[str, str], cs: dict[str, Any],
               started_pod: float | None) -> None:
    state, last = cs.get("state") or {}, (cs.get("lastState") or {}).get("terminated") or {}
    finished = _ts(last.get("finishedAt"))
    waiting = state.get("waiting")
    running = state.get("running")
    g.add("kube_pod_container_info", {**labels, "image": str(cs.get("image", ""))},
          _const(1), started_pod)
    # waiting since its last exit (a back-off), else since the pod started (it never ran)
    wait_since = (finished or started_pod) if waiting is not None else None
    g.add("kube_pod_container_status_waiting", labels,
          _step(wait_since, float(waiting is not None), 0.0), started_pod)
    if waiting is not None and waiting.get("reason"):
        g.add("kube_pod_container_status_waiting_reason",
              {**labels, "reason": str(waiting["reason"])}, _const(1), wait_since)
    g.add("kube_pod_container_status_running", labels,
          _step(wait_since, float(running is not None), 1.0), started_pod)
    at = _ts(running.get("startedAt")) if running is not None else None
    if at is not None:
        g.add("kube_pod_container_state_started", labels, _const(at), at)
    g.add("kube_pod_container_status_ready", labels,
          _step(wait_since, float(bool(cs.get("ready"))), 1.0), started_pod)
    if last.get("reason"):  # an exit of unknown time is kept all along, as the status has it
        g.add("kube_pod_container_status_last_terminated_reason",
              {**labels, "reason": str(last["reason"])}, _const(1), finished or started_pod)
        g.add("kube_pod_container_status_last_terminated_exitcode", labels,
              _const(float(last.get("exitCode", 0))), finished or started_pod)
    restarts = float(cs.get("restartCount") or 0)
    g.add("kube_pod_container_status_restarts_total", labels,
          _restarts(restarts, finished, g.times[0] if g.times else 0.0), started_pod)


def _restarts(total: float, last_exit: float | None, window_start: float) -> ValueAt:
    """A restart counter that reaches `total` at the last exit, rising evenly over the window
    before it (a crash loop's restarts come minutes apart)."""
    if total <= 0 or last_exit is None:
        return lambda t: total
    if last_exit <= window_start or total == 1:
        return lambda t: total if t >= last_exit else total - 1
    span = last_exit - window_start

    def value(t: float) -> float:
        if t >= last_exit:
            return total
        return max(0.0, total - 1 - int((last_exit - t) / span * (total - 1)))
    return value


def _node(g: _Gauges, node: dict[str, Any]) -> None:
    name = str(meta(node).get("name", ""))
    g.add("kube_node_info", {"node": name}, _const(1))
    if (node.get("spec") or {}).get("unschedulable"):
        g.add("kube_node_spec_unschedulable", {"node": name}, _const(1))
    for ctype, c in _conditions(node).items():
        now = str(c.get("status", "Unknown")).lower()
        healthy = _HEALTHY_NODE.get(ctype, "false")
        since = _ts(c.get("lastTransitionTime"))
        for status in ("true", "false", "unknown"):
            g.add("kube_node_status_condition",
                  {"node": name, "condition": ctype, "status": status},
                  _step(since, float(now == status), float(healthy == status)))


def _workloads(g: _Gauges, objects: list[dict[str, Any]],
               ready: dict[tuple[str, str], ValueAt]) -> None:
    newest_rs: dict[tuple[str, str], float] = {}
    rs_owner: dict[tuple[str, str], str] = {}
    for rs in (o for o in objects if o.get("kind") == "ReplicaSet"):
        m, owner = meta(rs), _owner(rs)
        created = _ts(m.get("creationTimestamp"))
        if owner.get("name"):
            key = (str(m.get("namespace", "")), str(owner["name"]))
            rs_owner[(key[0], str(m.get("name", "")))] = key[1]
            g.add("kube_replicaset_owner", {"namespace": key[0], "replicaset": str(m["name"]),
                                            "owner_kind": str(owner.get("kind", "")),
                                            "owner_name": key[1],
                                            "owner_is_controller": "true"}, _const(1), created)
            if created is not None:
                newest_rs[key] = max(newest_rs.get(key, created), created)
    pods_of: dict[tuple[str, str], list[ValueAt]] = defaultdict(list)
    for pod in (o for o in objects if o.get("kind") == "Pod"):
        m, owner = meta(pod), _owner(pod)
        ns = str(m.get("namespace", ""))
        workload = rs_owner.get((ns, str(owner.get("name", ""))), str(owner.get("name", "")))
        fn = ready.get((ns, str(m.get("name", ""))))
        if fn is not None:
            pods_of[(ns, workload)].append(fn)
    for o in objects:
        kind = str(o.get("kind", ""))
        if kind not in ("Deployment", "StatefulSet", "DaemonSet"):
            continue
        m, spec = meta(o), o.get("spec") or {}
        ns, name, low = str(m.get("namespace", "")), str(m.get("name", "")), kind.lower()
        labels = {"namespace": ns, low: name}
        gen = float(m.get("generation") or 1)
        bumped = newest_rs.get((ns, name))
        g.add(f"kube_{low}_metadata_generation", labels,
              _step(bumped, gen, max(gen - 1, 1.0)) if bumped else _const(gen))
        if kind != "DaemonSet":
            g.add(f"kube_{low}_spec_replicas", labels, _const(float(spec.get("replicas", 1))))
        pods = pods_of.get((ns, name), [])
        if pods and kind == "Deployment":
            g.add("kube_deployment_status_replicas_available", labels, _count(pods))


def _claims(g: _Gauges, objects: Iterable[dict[str, Any]]) -> None:
    for pvc in (o for o in objects if o.get("kind") == "PersistentVolumeClaim"):
        m = meta(pvc)
        phase = str((pvc.get("status") or {}).get("phase", "Bound"))
        for p in ("Pending", "Bound", "Lost"):
            g.add("kube_persistentvolumeclaim_status_phase",
                  {"namespace": str(m.get("namespace", "")),
                   "persistentvolumeclaim": str(m.get("name", "")), "phase": p},
                  _const(float(p == phase)))


def kube_state(scenario: Scenario, seed: int = 0) -> Scenario:
    """Replace the Kubernetes objects by the kube-state-metrics series they give."""
    objects = list(scenario.kubernetes.objects)
    rng = rng_for(scenario, "kube_state", seed)
    g = _Gauges(_window(scenario), exported=rng.random() < 0.5)
    ready: dict[tuple[str, str], ValueAt] = {}
    for o in objects:
        if o.get("kind") == "Pod":
            _pod(g, o, ready)
        elif o.get("kind") == "Node":
            _node(g, o)
    _workloads(g, objects, ready)
    _claims(g, objects)
    return scenario.model_copy(update={
        "kubernetes": scenario.kubernetes.model_copy(update={"objects": []}),
        "prometheus": PrometheusData(step_seconds=scenario.prometheus.step_seconds,
                                     series=[*scenario.prometheus.series, *g.series])})
