"""Traffic along the shop's dependency graph, and the telemetry it leaves: series and logs.

Requests enter at the gateway (and the queue worker) and fan out along the edges. Each
service serves with its ready pods; when it runs out of capacity it queues (latency) and
sheds (errors). Latency adds up along calls, errors cascade by each edge's weight, and a
callee slower than the caller's timeout turns into the caller's errors.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from warroom.sandbox.faults import Fault, Registry, throwing_ratio
from warroom.sandbox.kubelet import Kubelet
from warroom.sandbox.metrics import SeriesStore
from warroom.sandbox.model import Obj, ObjectStore, cpu_cores, mem_bytes, rfc3339
from warroom.sandbox.shop import BY_NAME, EDGES, PAYMENT_PROVIDER, SERVICES, ServiceSpec

TIMEOUT_S = 3.0
CERT_LIFETIME_S = 60 * 86400.0


@dataclass
class ServiceView:
    """One service's traffic this tick."""

    namespace: str
    name: str
    rps: float = 0.0
    errors: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    util: float = 0.0
    cpu_ratio: float = 0.0  # of limit
    serving: int = 0
    causes: list[str] = field(default_factory=list)  # log lines explaining the errors


def _order() -> list[str]:
    """Return the services callers first (a topological order of the call graph)."""
    seen: list[str] = []

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in seen or name in trail:
            return
        for caller, callee, _, _ in EDGES:
            if callee == name:
                visit(caller, (*trail, name))
        seen.append(name)

    for spec in SERVICES:
        visit(spec.name, ())
    visit(PAYMENT_PROVIDER, ())
    return seen


ORDER = _order()


class Traffic:
    """Computes each tick's traffic and records the canonical series and log lines."""

    def __init__(self, store: ObjectStore, kubelet: Kubelet, series: SeriesStore,
                 registry: Registry, seed: int) -> None:
        self.store = store
        self.kubelet = kubelet
        self.series = series
        self.registry = registry
        self.rng = random.Random(seed + 1)
        self.views: dict[str, ServiceView] = {}
        self.pvc_usage = 0.55
        self.tick = 0

    def _pods(self, spec: ServiceSpec) -> list[Obj]:
        return [p for p in self.store.list("Pod", spec.namespace)
                if p["metadata"].get("labels", {}).get("app") == spec.name]

    def step(self, now: datetime, dt: float, faults: list[Fault]) -> dict[str, ServiceView]:
        """Compute one tick of traffic, record series and logs, and return the views."""
        self.tick += 1
        strength = {f.kind: (f, f.strength(now)) for f in faults}

        def hit(kind: str, service: str) -> float:
            found = strength.get(kind)
            return found[1] if found and found[0].service == service else 0.0

        views = {name: ServiceView(BY_NAME[name].namespace if name in BY_NAME else "", name)
                 for name in ORDER}
        for spec in SERVICES:
            views[spec.name].rps += spec.entry_rps * (1 + 6.0 * hit("traffic_surge", spec.name))
        for name in ORDER:
            if name in BY_NAME:
                views[name].rps *= 1 + 6.0 * hit("traffic_surge", name) * (
                    BY_NAME[name].entry_rps == 0)
            for caller, callee, fanout, _ in EDGES:
                if caller == name:
                    views[callee].rps += views[name].rps * fanout
        jitter = 1 + self.rng.uniform(-0.03, 0.03)
        pods_by_service = {spec.name: self._pods(spec) for spec in SERVICES}
        for name in reversed(ORDER):  # callees first
            view = views[name]
            view.rps *= jitter
            if name == PAYMENT_PROVIDER:
                bad = hit("external_dependency", name)
                view.p50, view.p95, view.p99 = 0.08 + 2.5 * bad, 0.15 + 3 * bad, 0.25 + 4 * bad
                view.errors = 0.001 + 0.7 * bad
                if bad:
                    view.causes.append(f"payment provider {name} returned 503 Service "
                                       "Unavailable")
                continue
            self._serve(BY_NAME[name], view, pods_by_service[name], hit, now)
            for caller, callee, fanout, weight in EDGES:
                if caller != name:
                    continue
                down = views[callee]
                view.p50 += min(fanout, 1.5) * down.p50
                view.p95 += min(fanout, 1.5) * min(down.p95, TIMEOUT_S)
                view.p99 += min(fanout, 1.5) * min(down.p99, TIMEOUT_S)
                timeouts = min(1.0, max(0.0, down.p99 - TIMEOUT_S) / TIMEOUT_S)
                failed = min(1.0, down.errors + timeouts * 0.5) * weight
                if failed > 0.01:
                    view.errors = 1 - (1 - view.errors) * (1 - failed)
                    view.causes.append(
                        f"call to {callee} timed out after {TIMEOUT_S:.0f}s" if timeouts > 0.05
                        else f"upstream {callee} returned 503")
                dns = hit("dns_failure", "coredns")
                if dns and (BY_NAME.get(callee) is None or BY_NAME[callee].namespace !=
                            BY_NAME[name].namespace):
                    host = callee if callee not in BY_NAME else \
                        f"{callee}.{BY_NAME[callee].namespace}.svc.cluster.local"
                    view.errors = 1 - (1 - view.errors) * (1 - 0.8 * dns)
                    view.causes.append(f"dial tcp: lookup {host} on 10.96.0.10:53: "
                                       "server misbehaving")
        self.views = views
        self._record(now, dt, views, pods_by_service, hit)
        return views

    def _serve(self, spec: ServiceSpec, view: ServiceView, pods: list[Obj], hit: object,
               now: datetime) -> None:
        assert callable(hit)
        ready = [p for p in pods if self.kubelet.is_ready(p)]
        view.serving = len(ready)
        cost = 1 + 1.5 * hit("cpu_saturation", spec.name)
        capacity = 0.0
        for pod in ready:
            limit = cpu_cores(pod["spec"]["containers"][0].get("resources", {}).get(
                "limits", {}).get("cpu", spec.cpu_limit))
            capacity += spec.capacity_rps * limit / cpu_cores(spec.cpu_limit) / cost
        db_hot = hit("database_saturation", spec.name)
        view.util = view.rps / capacity if capacity else math.inf
        util = min(view.util, 50.0)
        queue = util / (1 - util) if util < 0.95 else 19 + 10 * (util - 0.95)
        # a transient blip (fault "none") passes on its own
        base = (spec.latency_s * (1 + 25 * db_hot) + 0.25 * hit("network_latency", spec.name)
                + 0.6 * hit("none", spec.name))
        view.p50 = base * (1 + 0.5 * queue)
        view.p95 = base * (2.2 + 1.5 * queue)
        view.p99 = base * (4 + 3 * queue)
        errors = 0.0005
        if not ready:
            errors, view.p50, view.p95, view.p99 = 1.0, 0.001, 0.002, 0.003
            view.causes.append(f"no ready endpoints for service {spec.name}")
        elif util > 1:
            errors += 1 - 1 / util
            view.causes.append(f"request queue full ({round(view.rps)} rps), shedding load")
        if ready:
            thrown = sum(throwing_ratio(p, self.registry) for p in ready) / len(ready)
            if thrown:
                errors = 1 - (1 - errors) * (1 - thrown)
                view.causes.append("unhandled exception: TypeError: Cannot read properties "
                                   "of undefined (reading 'currency') at priceCart "
                                   "(/app/src/cart/price.js:88:31)")
        app_error = hit("application_error", spec.name)
        if app_error:
            errors = 1 - (1 - errors) * (1 - 0.5 * app_error)
            view.causes.append("java.lang.IllegalStateException: coupon cache returned "
                               "inconsistent state for key cart:promo")
        if db_hot:
            errors = 1 - (1 - errors) * (1 - 0.3 * db_hot)
            view.causes.append("FATAL: sorry, too many clients already")
        if spec.role == "db" and self.pvc_usage >= 0.985:
            errors = 1 - (1 - errors) * 0.4
            view.causes.append('ERROR: could not extend file "base/16384/24576": No space '
                               "left on device")
        cert = hit("certificate_expired", spec.name)
        if cert:
            errors = 1 - (1 - errors) * (1 - 0.9 * cert)
            view.causes.append("http: TLS handshake error from 10.0.0.4:51234: remote error: "
                               "tls: bad certificate (x509: certificate has expired)")
        view.errors = min(1.0, errors)
        view.cpu_ratio = min(1.0, 0.05 + 0.9 * util)

    def _record(self, now: datetime, dt: float, views: dict[str, ServiceView],
                pods_by_service: dict[str, list[Obj]], hit: object) -> None:
        assert callable(hit)
        at = now.timestamp()
        record = self.series.record
        stamp = rfc3339(now)
        node_cpu: dict[str, float] = {}
        node_mem: dict[str, float] = {}
        for spec in SERVICES:
            view = views[spec.name]
            labels = {"namespace": spec.namespace, "service": spec.name}
            record(at, "service:requests:rate1m", labels, view.rps)
            record(at, "service:errors:ratio_rate1m", labels, view.errors)
            for quantile, value in (("p50", view.p50), ("p95", view.p95), ("p99", view.p99)):
                record(at, f"service:latency_seconds:{quantile}_1m", labels, value)
            for pod in pods_by_service[spec.name]:
                state = self.kubelet.container(pod)
                if state is None or state.started is None:
                    continue
                container = pod["spec"]["containers"][0]
                limits = container.get("resources", {}).get("limits", {})
                cpu_limit = cpu_cores(limits.get("cpu", spec.cpu_limit))
                plabels = {"namespace": spec.namespace, "pod": pod["metadata"]["name"],
                           "container": container["name"]}
                cpu_ratio = view.cpu_ratio if self.kubelet.is_ready(pod) else 0.05
                record(at, "pod:cpu_usage:ratio", plabels, cpu_ratio)
                record(at, "pod:cpu_throttled:ratio", plabels,
                       max(0.0, min(1.0, (view.util - 0.85) * 2.5)) if cpu_ratio > 0.8 else 0.0)
                limit_mi = mem_bytes(limits.get("memory", spec.mem_limit)) / 2**20
                record(at, "pod:memory_working_set:ratio", plabels, state.memory_mi / limit_mi)
                net = hit("network_latency", spec.name)
                if net:
                    record(at, "pod:network_latency_seconds:p99_1m",
                           {"namespace": spec.namespace, "pod": pod["metadata"]["name"]},
                           0.002 + 0.25 * net)
                node = pod["spec"]["nodeName"]
                node_cpu[node] = node_cpu.get(node, 0.0) + cpu_ratio * cpu_limit
                node_mem[node] = node_mem.get(node, 0.0) + state.memory_mi * 2**20
                self._log(pod, view, state.memory_mi / limit_mi, stamp)
        for node in self.store.list("Node"):
            name = node["metadata"]["name"]
            alloc = node["status"]["allocatable"]
            record(at, "node:cpu_usage:ratio", {"node": name},
                   0.08 + node_cpu.get(name, 0.0) / cpu_cores(alloc["cpu"]))
            record(at, "node:memory_usage:ratio", {"node": name},
                   0.12 + node_mem.get(name, 0.0) / mem_bytes(alloc["memory"]))
            record(at, "node:filesystem_usage:ratio", {"node": name}, 0.41)
        db = views["orders-db"]
        dbl = {"namespace": "data", "service": "orders-db"}
        hot = min(1.0, hit("database_saturation", "orders-db") / 0.6)
        if not db.serving:  # a database that is down has no open connections
            db.util = 0.0
        record(at, "db:connections:ratio", dbl, min(1.0, 0.3 + 0.2 * db.util + 0.7 * hot))
        record(at, "db:cpu_usage:ratio", dbl, min(1.0, 0.2 + 0.5 * db.util + 0.7 * hot))
        disk = hit("disk_pressure", "orders-db")
        self.pvc_usage = min(0.999, self.pvc_usage + dt * (0.000002 + disk * 0.002))
        record(at, "db:storage_usage:ratio", dbl, self.pvc_usage)
        record(at, "db:replication_lag_seconds", dbl, 0.0)
        record(at, "pvc:usage:ratio", {"namespace": "data",
                                       "persistentvolumeclaim": "data-orders-db-0"},
               self.pvc_usage)
        record(at, "pg_stat_activity_count", {"namespace": "data", "service": "orders-db",
                                              "datname": "orders"},
               round(200 * min(1.0, 0.3 + 0.2 * db.util + 0.7 * hot)))
        cert = hit("certificate_expired", "gateway")
        record(at, "probe:ssl_expiry_seconds", {"namespace": "shop", "service": "gateway"},
               CERT_LIFETIME_S * (1 - 1.02 * min(1.0, cert * 10)) if cert else CERT_LIFETIME_S)
        dns = hit("dns_failure", "coredns")
        for rcode, share in (("NOERROR", 1 - 0.8 * dns), ("SERVFAIL", 0.8 * dns)):
            record(at, "coredns_dns_responses:rate1m", {"namespace": "kube-system",
                                                        "service": "coredns", "rcode": rcode},
                   900 * share)

    def _log(self, pod: Obj, view: ServiceView, memory: float, stamp: str) -> None:
        log = self.kubelet.log
        if memory > 0.85:
            container = pod["spec"]["containers"][0]
            limit = container.get("resources", {}).get("limits", {}).get("memory", "")
            used = round(memory * mem_bytes(limit or "512Mi") / 2**20)
            log(pod, f"{stamp} WARN heap in use {used}Mi / {limit}; GC overhead high")
        if view.errors > 0.02 and view.causes:
            for cause in dict.fromkeys(view.causes[:2]):
                log(pod, f"{stamp} ERROR {cause}")
        elif self.tick % 4 == 0:
            log(pod, f"{stamp} INFO GET /api/{view.name} 200 {round(view.p50 * 1000)}ms")
        if view.p99 > 1.0:
            log(pod, f"{stamp} WARN slow request: p99 {view.p99:.2f}s")
