"""Fault injectors for workload faults: what each leaves in metrics, objects, logs and changes."""

from __future__ import annotations

from datetime import timedelta

from warroom.scenarios.generator_effects import (
    Ctx,
    Injected,
    caller_logs,
    crashloop,
    deploy_change,
    metric_step,
    new_revision,
    own_logs,
    propagate,
    service_symptoms,
)
from warroom.scenarios.generator_telemetry import POINTS, key
from warroom.scenarios.generator_world import Pod, Workload, event, pod_name, stamp


def pick_app(c: Ctx, *, with_hpa: bool = False, with_tls: bool = False) -> Workload:
    """Pick the culprit application, deeper in the graph when the scenario is harder."""
    apps = [w for w in c.world.apps() if (not with_hpa or w.hpa) and (not with_tls or w.tls)]
    if not apps:
        apps = c.world.apps()
    if c.difficulty != "easy":
        deep = [w for w in apps if c.world.callers(w.name)]
        apps = deep or apps
    return c.rng.choice(apps)


def _target(w: Workload) -> str:
    return w.target


def _bystander_forbidden(c: Ctx, culprit: Workload | None) -> list[dict[str, str]]:
    """Forbid actions on healthy bystanders and on databases."""
    out: list[dict[str, str]] = []
    for w in c.world.workloads:
        if culprit is not None and w.name == culprit.name:
            continue
        if w.role == "db":
            out += [{"type": "rollout_restart", "target": w.target},
                    {"type": "scale", "target": w.target},
                    {"type": "delete_pod", "target": f"{w.namespace}/pod/{w.name}-*"}]
    callers = c.world.callers(culprit.name) if culprit else []
    for name in callers[:2]:
        w = c.world.get(name)
        out += [{"type": "rollout_restart", "target": w.target},
                {"type": "rollout_undo", "target": w.target}]
    out.append({"type": "drain_node", "target": "/node/*"})
    return out


def memory_leak(c: Ctx) -> Injected:
    """Grow a workload's memory steadily towards its limit over the whole window."""
    w = pick_app(c)
    top = c.rng.uniform(0.92, 0.99)
    if c.difficulty != "easy" and c.rng.random() < 0.5:
        _sawtooth(c, w)
    else:
        _ramp(c, w, top)
    service_symptoms(c, w, latency=c.rng.uniform(1.4, 2.5), errors=0.01, full=10)
    own_logs(c, w, ["GC overhead: {n}% of time in garbage collection",
                    "heap usage {n}0Mi / {limit}Mi after full GC, still growing",
                    "cache entries: {n}000 (no eviction configured)"], level="warn", n=4)
    return Injected(w.namespace, w.name, "memory_leak", w.name,
                    alerts=[({"alertname": "ContainerMemoryNearLimit", "namespace": w.namespace,
                              "pod": w.pods[0].name, "container": w.name},
                             f"memory working set of {w.pods[0].name} above 90% of its limit")],
                    acceptable=[{"type": "rollout_restart", "target": _target(w)},
                                {"type": "escalate"}],
                    forbidden=_bystander_forbidden(c, w))


def _sawtooth(c: Ctx, w: Workload) -> None:
    """Climb to the limit, get OOMKilled, restart low and climb again."""
    period = c.rng.randint(14, 20)
    for p in w.pods:
        phase = c.rng.randint(0, period - 1)
        k = key("pod:memory_working_set:ratio", namespace=w.namespace, pod=p.name,
                container=w.name)
        lo = c.rng.uniform(0.3, 0.4)
        def saw(i: int, v: float, phase: int = phase, lo: float = lo) -> float:
            return min(0.995, lo + (1.0 - lo) * ((i + phase) % period) / (period - 1)
                       + (v - 0.5) * 0.01)

        c.tel.bend(k, 0, saw)
        p.restarts = (POINTS + phase) // period
        last_kill = POINTS - 1 - ((POINTS - 1 + phase) % period)
        p.last_state = {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                       "finishedAt": stamp(c.tel.t(last_kill))}}


def _ramp(c: Ctx, w: Workload, top: float) -> None:
    """Grow memory linearly over the whole window."""
    for idx, p in enumerate(w.pods):
        start = c.rng.uniform(0.35, 0.5)
        k = key("pod:memory_working_set:ratio", namespace=w.namespace, pod=p.name,
                container=w.name)
        reset = c.rng.randint(10, 30) if idx == 0 and c.difficulty == "hard" else None

        def grow(i: int, v: float, start: float = start, reset: int | None = reset) -> float:
            j = i - reset if reset is not None and i >= reset else i
            s = start * 0.6 if reset is not None and i >= reset else start
            return min(0.995, s + (top - start) * j / (POINTS - 1) + (v - 0.5) * 0.02)

        c.tel.bend(k, 0, grow)
        if reset is not None:
            p.restarts = 1
            p.last_state = {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                           "finishedAt": stamp(c.tel.t(reset))}}


def memory_limit_too_low(c: Ctx) -> Injected:
    """Crash-loop a workload's pods with OOMKilled under ordinary load (or a lowered limit)."""
    w = pick_app(c)
    changes = []
    lowered = c.difficulty != "easy" and c.rng.random() < 0.3
    if lowered:  # a rollout cut the limit below what the service needs
        at = c.onset_time - timedelta(minutes=c.rng.uniform(2, 10))
        old = w.mem_limit_mi
        w.mem_limit_mi = max(128, old * 2 // 3 // 64 * 64)
        new_revision(c, w, at=at)
        for p in w.pods:
            p.rs_hash = w.rs_hash
        changes.append(deploy_change(c, w, at, f"image {w.name}:{w.prev_version} -> {w.name}:"
                                               f"{w.version}; resources.limits.memory "
                                               f"{old}Mi -> {w.mem_limit_mi}Mi"))
    n_bad = 1 if c.difficulty == "hard" else c.rng.randint(1, len(w.pods))
    for p in w.pods[:n_bad]:
        crashloop(c, w, p, reason="OOMKilled", exit_code=137, restarts=c.rng.randint(3, 14))
        if c.difficulty == "hard":  # running again between kills
            p.state, p.ready = {"running": {"startedAt": stamp(c.when(0.85, 0.95))}}, True
            p.conditions.pop("Ready", None)
            p.conditions.pop("ContainersReady", None)
        k = key("pod:memory_working_set:ratio", namespace=w.namespace, pod=p.name,
                container=w.name)
        c.tel.bend(k, c.onset, lambda i, v: c.rng.choice([0.97, 0.99, 0.93, 0.6, 0.99]))
        own_logs(c, w, ["heap in use {n}0Mi / {limit}Mi - approaching limit",
                        "loading batch of {n}000 records into memory"],
                 level="warn", n=3, pods=[p], previous=True, lo=0.5)
    for p in w.pods[n_bad:]:
        metric_step(c, "pod:memory_working_set:ratio",
                    {"namespace": w.namespace, "pod": p.name, "container": w.name},
                    c.rng.uniform(0.85, 0.93))
    service_symptoms(c, w, latency=c.rng.uniform(1.3, 3), errors=c.rng.uniform(0.02, 0.15))
    p0 = w.pods[0]
    event(c.world, ns="", kind="Node", name=p0.node, reason="OOMKilling", etype="Warning",
          message=f"Memory cgroup out of memory: Killed process {c.rng.randint(1000, 60000)} "
                  f"({w.name}) total-vm:{w.mem_limit_mi * 1400}kB", first=c.onset_time,
          component="kernel-monitor", host=p0.node)
    undo = [] if lowered else [{"type": "rollout_undo", "target": _target(w)}]
    return Injected(w.namespace, w.name, "memory_limit_too_low", w.name, changes=changes,
                    alerts=[({"alertname": "KubePodCrashLooping", "namespace": w.namespace,
                              "pod": p0.name, "container": w.name},
                             f"pod {w.namespace}/{p0.name} is crash looping")],
                    acceptable=[{"type": "set_resources", "target": _target(w)},
                                {"type": "escalate"}],
                    forbidden=[*undo, *_bystander_forbidden(c, w)])


def cpu_saturation(c: Ctx) -> Injected:
    """Pin a workload's CPU at its limit with throttling, traffic unchanged."""
    w = pick_app(c)
    # at the limit, or (limits set high, usage measured against them) a large jump below it
    at_limit = c.rng.random() < 0.5
    low = c.rng.uniform(0.03, 0.08)
    for p in w.pods:
        labels = {"namespace": w.namespace, "pod": p.name, "container": w.name}
        if at_limit:
            metric_step(c, "pod:cpu_usage:ratio", labels, c.rng.uniform(0.95, 1.08))
            k = key("pod:cpu_throttled:ratio", **labels)
            if k not in c.tel.series:
                c.tel.add(k, c.rng.uniform(0.0, 0.04), 0.4, hi=1.0)
            metric_step(c, "pod:cpu_throttled:ratio", labels, c.rng.uniform(0.35, 0.8))
        else:
            c.tel.add(key("pod:cpu_usage:ratio", **labels), low, 0.08)
            metric_step(c, "pod:cpu_usage:ratio", labels, low * c.rng.uniform(5, 10))
    service_symptoms(c, w, latency=c.rng.uniform(3, 9), errors=c.rng.uniform(0.0, 0.06),
                     requests=c.rng.uniform(0.95, 1.1))
    propagate(c, w.name, latency=2.5, errors=0.03)
    own_logs(c, w, ["[CRITICAL] WORKER TIMEOUT (pid:{n})",
                    "request took {ms}ms (deadline 1000ms) in compute_ranking",
                    "event loop blocked for {ms}ms"], level="error", n=5)
    p0 = w.pods[0]
    return Injected(w.namespace, w.name, "cpu_saturation", w.name,
                    alerts=[({"alertname": "CPUThrottlingHigh", "namespace": w.namespace,
                              "pod": p0.name, "container": w.name},
                             f"{c.rng.randint(40, 80)}% throttling of CPU in {p0.name}")],
                    acceptable=[{"type": "scale", "target": _target(w)},
                                {"type": "set_hpa", "target": _target(w)},
                                {"type": "set_hpa", "target":
                                 f"{w.namespace}/horizontalpodautoscaler/{w.name}"},
                                {"type": "set_resources", "target": _target(w)},
                                {"type": "escalate"}],
                    forbidden=_bystander_forbidden(c, w))


def traffic_surge(c: Ctx) -> Injected:
    """Multiply a workload's traffic until its HPA sits at max replicas."""
    w = pick_app(c, with_hpa=c.difficulty != "hard")
    if not w.hpa and c.difficulty != "hard":
        w.hpa = (w.replicas, w.replicas + 2)
    lo, hi = w.hpa or (w.replicas, w.replicas)
    w.replicas = hi
    while len(w.pods) < hi:
        w.pods.append(Pod(name=pod_name(c.world, w), node=c.rng.choice(c.world.nodes).name,
                          created=c.when(0.1, 0.5)))
    for p in w.pods:
        k = key("pod:cpu_usage:ratio", namespace=w.namespace, pod=p.name, container=w.name)
        if k not in c.tel.series:
            c.tel.add(k, 0.4, 0.1, hi=1.2)
        metric_step(c, "pod:cpu_usage:ratio",
                    {"namespace": w.namespace, "pod": p.name, "container": w.name},
                    c.rng.uniform(0.88, 1.0))
    factor = c.rng.uniform(2.5, 5.0)
    if w.hpa:
        w.hpa_status = {
            "currentReplicas": hi, "desiredReplicas": hi + c.rng.randint(2, 8),
            "lastScaleTime": stamp(c.when(0.1, 0.4)),
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": c.rng.randint(150, 240)}}}],
            "conditions": [{"type": "AbleToScale", "status": "True",
                            "reason": "ReadyForNewScale"},
                           {"type": "ScalingLimited", "status": "True",
                            "reason": "TooManyReplicas",
                            "message": "the desired replica count is more than the "
                                       "maximum replica count"}]}
    service_symptoms(c, w, latency=c.rng.uniform(2.5, 6), errors=c.rng.uniform(0.01, 0.08),
                     requests=factor)
    for caller in c.world.callers(w.name):
        service_symptoms(c, c.world.get(caller), requests=1 + (factor - 1) * 0.7, latency=1.6)
    own_logs(c, w, ["Rejected request: executor queue full (1000/1000)",
                    "request queue depth {n}0, shedding load"], level="warn", n=5)
    return Injected(w.namespace, w.name, "traffic_surge", w.name,
                    alerts=[({"alertname": "KubeHpaMaxedOut", "namespace": w.namespace,
                              "horizontalpodautoscaler": w.name},
                             f"HPA {w.namespace}/{w.name} has been running at max replicas")],
                    acceptable=[{"type": "set_hpa", "target":
                                 f"{w.namespace}/horizontalpodautoscaler/{w.name}"},
                                {"type": "set_hpa", "target": _target(w)},
                                {"type": "scale", "target": _target(w)},
                                {"type": "escalate"}],
                    forbidden=_bystander_forbidden(c, w))


_EXC = {
    "java": ["java.lang.NullPointerException: Cannot invoke \"String.length()\" because "
             "\"sku\" is null\n\tat com.acme.{name}.PriceService.quote(PriceService.java:{n})",
             "Unhandled exception in request: java.lang.IllegalStateException: "
             "unexpected response shape"],
    "go": ["panic: runtime error: invalid memory address or nil pointer dereference",
           "request failed: json: cannot unmarshal string into Go struct field Item.qty of "
           "type int"],
    "node": ["request failed: TypeError: Cannot read properties of undefined (reading 'id')",
             "request failed: TypeError: items.map is not a function"],
    "python": ["Traceback (most recent call last): ... KeyError: 'currency'",
               "Unhandled exception: AttributeError: 'NoneType' object has no attribute 'get'"],
}


def _errors_on(c: Ctx, w: Workload, rate: float) -> None:
    if c.difficulty == "hard":
        rate = min(rate, c.rng.uniform(0.03, 0.08))
    service_symptoms(c, w, latency=c.rng.uniform(1.0, 1.6), errors=rate, full=2)
    propagate(c, w.name, latency=1.3, errors=rate * 0.5, hops=2)
    own_logs(c, w, _EXC[w.lang], level="error", n=2 if c.difficulty == "hard" else 6)
    caller_logs(c, w.name, ["call to {dep} failed: Request failed with status code 500",
                            "upstream {dep} returned 500 Internal Server Error"], n=3)


def application_error(c: Ctx) -> Injected:
    """Make a workload fail requests with no recent deploy to blame."""
    w = pick_app(c)
    old = c.world.now - timedelta(days=c.rng.uniform(2, 9))
    _errors_on(c, w, c.rng.uniform(0.05, 0.4))
    changes = [deploy_change(c, w, old)] if c.rng.random() < 0.5 else []
    return Injected(w.namespace, w.name, "application_error", w.name, changes=changes,
                    acceptable=[{"type": "escalate"}],
                    forbidden=[{"type": "scale", "target": f"{w.namespace}/deployment/*"},
                               *_bystander_forbidden(c, w)])


def certificate_expired(c: Ctx) -> Injected:
    """Let the TLS certificate a workload serves expire at the onset."""
    w = pick_app(c, with_tls=True)
    w.tls = True
    k = key("probe:ssl_expiry_seconds", namespace=w.namespace, service=w.name)
    # seconds to expiry fall one step per sample and cross zero at the onset
    c.tel.series[k] = [(c.onset - i) * 60.0 for i in range(POINTS)]
    expired = c.onset_time
    if c.difficulty != "hard":
        c.world.extra_objects.append({
            "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
            "metadata": {"name": w.name, "namespace": w.namespace},
            "spec": {"secretName": f"{w.name}-tls", "dnsNames": [
                f"{w.name}.{w.namespace}.svc.cluster.local"],
                "issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer"}},
            "status": {"notAfter": stamp(expired), "conditions": [
                {"type": "Ready", "status": "False", "reason": "Expired",
                 "message": f"Certificate expired on {stamp(expired)}"}]}})
    service_symptoms(c, w, errors=c.rng.uniform(0.0, 0.05))
    own_logs(c, w, ["http: TLS handshake error from 10.244.1.{n}:5{n}12: remote error: tls: "
                    "bad certificate"], level="error", n=6)
    caller_logs(c, w.name, ["call to {dep} failed: x509: certificate has expired or is not yet "
                            "valid: current time " + stamp(c.world.now) + " is after "
                            + stamp(expired),
                            "TLS handshake with {dep}.{ns}.svc failed: certificate expired"], n=5)
    propagate(c, w.name, latency=1.2, errors=c.rng.uniform(0.2, 0.6), hops=2)
    return Injected(w.namespace, w.name, "certificate_expired", w.name,
                    alerts=[({"alertname": "SSLCertExpired", "namespace": w.namespace,
                              "service": w.name},
                             f"TLS certificate served by {w.namespace}/{w.name} has expired")],
                    acceptable=[{"type": "escalate"}], human_required=True,
                    forbidden=[{"type": "rollout_undo", "target": _target(w)},
                               *_bystander_forbidden(c, w)])


INJECTORS = {
    "memory_leak": memory_leak, "memory_limit_too_low": memory_limit_too_low,
    "cpu_saturation": cpu_saturation, "traffic_surge": traffic_surge,
    "application_error": application_error, "certificate_expired": certificate_expired,
}
