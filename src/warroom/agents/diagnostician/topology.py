"""Localisation: where the alert points, and the walk down the dependency graph to the culprit.

Alerts name a service, pod, HPA, PVC or node; the topology (caller -> callee) says what each
depends on. A candidate downstream of an alerting service is plausible; a service whose only
trouble is generic symptoms while a dependency below it is anomalous is a victim, not a cause.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import (
    PLACE_LABELS,
    Entity,
    Index,
    targets_of,
)
from warroom.agents.diagnostician.labels import node_label, own_labels
from warroom.sensors.mesh import call_of
from warroom.sensors.models import AlertView

# workload labels of kube-state-metrics, and the Argo CD / app-of-apps `application`
_WORKLOAD_LABELS = ("deployment", "statefulset", "daemonset", "job_name", "cronjob",
                    "application")
# the labels that place a series (index.PLACE_LABELS) name the place of an alert too, past the
# Kubernetes ones read first; `job` and `instance` name a scrape target and are read last
_NAMING_LABELS = tuple(k for k in PLACE_LABELS if k not in (
    "service", "deployment", "statefulset", "daemonset", "job", "instance", "host"))


_NOT_PLACES = frozenset({"alertname", "severity", "namespace", "alertstate", "prometheus",
                         "receiver", "priority", "team"})


def named_by_value(labels: dict[str, str], places: set[str]) -> str:
    """Return the known place one of an alert's labels names by its value, or ''.

    The last resort for an alert no label key places: an SLO tool's burn-rate alert names its
    service under keys of its own (Sloth's `sloth_service="checkout"`, `sloth_id=
    "checkout-requests-availability"`, Pyrra's `slo="checkout-availability"`). A value that is
    a place's name, or begins with it and a separator (the longest such place), names it.
    """
    values = [v for k, v in sorted(labels.items()) if k not in _NOT_PLACES and v]
    if exact := next((v for v in values if v in places), ""):
        return exact
    ordered = sorted((p for p in places if p), key=len, reverse=True)
    return next((p for v in values for p in ordered
                 if len(v) > len(p) + 1 and v.startswith(p) and v[len(p)] in "_-.:/"), "")


def alert_entities(ix: Index, alerts: list[AlertView]) -> list[Entity]:
    """Resolve what each firing alert is about to a workload, node or service entity."""
    out: list[Entity] = []
    for a in alerts:
        lab = own_labels(a.labels, ix.node_addresses)
        ns = lab.get("namespace", "")
        ent: Entity | None = None
        workload = next((lab[k] for k in _WORKLOAD_LABELS if lab.get(k)), "")
        if workload and not ns:
            ns = ix.namespace_of(workload) or next(
                (n for (n, w) in ix.workloads if w == workload), "") or next(
                (str(o["metadata"].get("namespace", "")) for kind in ("Job", "CronJob")
                 for o in ix.by_kind[kind] if o["metadata"].get("name") == workload), "") or next(
                (pns for (pns, pod) in ix.pods if ix.owner_of_pod(pns, pod)[1] == workload), "")
        if not lab.get("pod") and (node := node_label(lab)):
            ent = ("", node)
        elif (call := call_of(lab)) is not None:  # on a mesh's calls: about their callee
            ent = ix.entity(call.callee, call.callee_namespace or ns)
        elif lab.get("service"):
            ent = ix.entity(lab["service"], ns)
        elif lab.get("deployment") or lab.get("statefulset") or lab.get("daemonset"):
            ent = (ns, lab.get("deployment") or lab.get("statefulset") or lab["daemonset"])
        elif lab.get("pod"):
            ent = ix.owner_of_pod(ns, lab["pod"])
        elif lab.get("horizontalpodautoscaler"):
            ent = (ns, lab["horizontalpodautoscaler"])
        elif lab.get("persistentvolumeclaim"):
            ent = ix.pvc_owner(ns, lab["persistentvolumeclaim"])
        elif named := next((lab[k] for k in _NAMING_LABELS if lab.get(k)), ""):
            ent = ix.entity(named, ns)
        elif node := ix.node_of(lab):  # a scrape target that is a node (node-exporter's)
            ent = ("", node)
        elif (probe := ix.probed_entity(lab, ns)) is not None:  # not the prober's own job
            ent = probe
        elif target := next((ix.targets[t] for t in targets_of(lab) if t in ix.targets), ""):
            # a scrape target series are placed by, before the application it belongs to
            ent = ix.entity(target, ns)
        elif workload:
            ent = (ns, workload)
        elif lab.get("job") and ns:
            ent = (ns, lab["job"])
        elif named := named_by_value(lab, {*ix.service_ns, *(b for e in ix.snapshot.topology
                                                             for b in e)}):
            ent = ix.entity(named, ns)
        if ent is not None and ent not in out:
            out.append(ent)
    return out


@dataclass
class Graph:
    """The dependency graph over resolved entities."""

    callees: dict[Entity, set[Entity]] = field(default_factory=dict)
    callers: dict[Entity, set[Entity]] = field(default_factory=dict)

    @classmethod
    def build(cls, ix: Index, prefer: str = "") -> Graph:
        """Resolve topology edges (bare names) to entities."""
        g = cls()
        for caller, callee in ix.snapshot.topology:
            a = ix.entity(caller, prefer)
            g.add(a, ix.entity(callee, a[0] or prefer))
        return g

    def add(self, caller: Entity, callee: Entity) -> None:
        """Add one caller -> callee edge."""
        if caller != callee:
            self.callees.setdefault(caller, set()).add(callee)
            self.callers.setdefault(callee, set()).add(caller)

    @property
    def empty(self) -> bool:
        return not self.callees

    def downstream(self, roots: list[Entity], depth: int = 5) -> dict[Entity, int]:
        """Return each entity reachable from `roots` through callee edges, with its distance."""
        dist = {r: 0 for r in roots}
        queue = deque(roots)
        while queue:
            cur = queue.popleft()
            if dist[cur] >= depth:
                continue
            for nxt in sorted(self.callees.get(cur, ())):
                if nxt not in dist:
                    dist[nxt] = dist[cur] + 1
                    queue.append(nxt)
        return dist

    def below(self, ent: Entity, depth: int = 4) -> set[Entity]:
        """Return the transitive dependencies of one entity."""
        return set(self.downstream([ent], depth)) - {ent}

    def above(self, ent: Entity, depth: int = 4) -> set[Entity]:
        """Return the transitive callers of one entity."""
        seen: set[Entity] = set()
        frontier = {ent}
        for _ in range(depth):
            frontier = {c for f in frontier for c in self.callers.get(f, ())} - seen - {ent}
            seen |= frontier
        return seen


def relation(ix: Index, g: Graph, ent: Entity, alerts: list[Entity],
             reach: dict[Entity, int], dns: Entity, *, mapped: bool = True
             ) -> tuple[float, str]:
    """Return how plausible a place is given the alerts (factor 0..1) and why.

    Without a call graph in the snapshot (`mapped` false) the graph holds only the links
    inferred from logs: a place they do not connect to the alert may still be below it.
    """
    if not alerts:
        return 0.9, "no alert target to localise from"
    if ent in alerts:
        return 1.0, "the alert fires on it"
    if ent in reach:
        return 1.0, f"{reach[ent]} hop(s) downstream of the alerting service"
    if ent == dns:
        return 0.95, "cluster DNS serves every workload"
    if ent[0] == "" and ent[1] in ix.node_names:
        relevant = set(reach) | set(alerts)
        hosted = {ix.owner_of_pod(*p) for p in ix.pods_on_node.get(ent[1], [])}
        if hosted & relevant:
            return 1.0, "hosts pods of the alerting service or its dependencies"
        if not ix.nodes:
            return 0.85, "a node (no node objects to see what it hosts)"
        return 0.8 if hosted else 0.7, "a node of the cluster"
    ups = set().union(*(g.above(a) for a in alerts)) if alerts else set()
    if ent in ups:
        return 0.6, "upstream of the alerting service"
    if g.empty or not mapped:
        same_ns = any(ent[0] == a[0] for a in alerts)
        return (0.9 if same_ns else 0.75), "no topology to localise with"
    return 0.55, "not connected to the alerting service"


_ALERT_HINTS: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(r"CPUThrottling|CpuSaturat|HighCPU", re.I), "cpu_saturation", 0.3),
    (re.compile(r"HpaMaxedOut|TooManyRequests|TrafficSurge", re.I), "traffic_surge", 0.3),
    (re.compile(r"NodeNotReady|NodeDown|NodeUnreachable", re.I), "node_failure", 0.3),
    (re.compile(r"VolumeFillingUp|VolumeFull|DiskFull|FilesystemAlmostOut|DiskPressure", re.I),
     "disk_pressure", 0.3),
    (re.compile(r"Cert|SSL|TLS", re.I), "certificate_expired", 0.3),
    (re.compile(r"ImagePull", re.I), "image_pull_error", 0.3),
    (re.compile(r"OOMKill|MemoryNearLimit|MemoryHigh", re.I), "memory_limit_too_low", 0.15),
    (re.compile(r"TooManyConnections|DatabaseSaturat|PostgresqlHigh|MysqlHigh", re.I),
     "database_saturation", 0.3),
    (re.compile(r"NotScheduled|Unschedulable|PodPending", re.I), "unschedulable", 0.2),
    (re.compile(r"CoreDNS|DNSErrors", re.I), "dns_failure", 0.3),
]


def alert_findings(ix: Index, alerts: list[AlertView]) -> list[Finding]:
    """Read what the firing alerts' own names say about the fault (weak, checkable evidence)."""
    out: list[Finding] = []
    for a in alerts:
        if a.status != "firing":
            continue
        name = a.labels.get("alertname", "")
        ents = alert_entities(ix, [a])
        if not ents:
            continue
        for pat, fault, weight in _ALERT_HINTS:
            if pat.search(name):
                where = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items())
                                  if k in ("namespace", "service", "pod", "node",
                                           "persistentvolumeclaim", "horizontalpodautoscaler"))
                out.append(Finding(ents[0][0], ents[0][1], fault, weight,
                                   f"Alert {name} firing since {a.starts_at:%H:%M:%SZ} ({where})",
                                   onset=a.starts_at, source="alerts"))
                break
    return out
