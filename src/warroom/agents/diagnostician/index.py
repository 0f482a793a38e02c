"""An index over the raw evidence: which workload owns a pod, where a service lives, events.

Kubernetes objects arrive as plain API dicts; this module answers the questions every analyzer
asks (pod -> Deployment/StatefulSet through ownerReferences and ReplicaSets, service name ->
namespace, PVC -> StatefulSet, events about an object) once, so analyzers stay short.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from warroom.agents.diagnostician.families import derive
from warroom.agents.diagnostician.kubetext import objects_from_documents
from warroom.agents.diagnostician.labels import (
    node_addresses,
    node_label,
    own_series,
    owners_in_series,
    placed_by_name,
)
from warroom.agents.diagnostician.objects import meta, repair
from warroom.agents.diagnostician.resolution import at_minutes
from warroom.agents.diagnostician.roles import is_database_series, role_of
from warroom.agents.diagnostician.rollovers import HASH_POD, Entity, Rollover, stitch
from warroom.sensors.mesh import at_callee
from warroom.sensors.models import EvidenceSnapshot, LogStream, Series

_ORDINAL = re.compile(r"^(?P<base>.+)-(?P<n>\d+)$")


def finite_samples(series: Series) -> list[tuple[float, float]]:
    """Return a series' finite samples as (unix seconds, value); unparsable ones are skipped."""
    out = []
    for ts, raw in series.values:
        try:
            v = float(raw)
        except (TypeError, ValueError):
            continue
        if math.isfinite(v):
            out.append((float(ts), v))
    return out


# labels that name the place a series or an alert is about, most specific first: the service
# (`service_name` is OpenTelemetry's `service.name`, `sloth_service` the service of Sloth's SLO
# series and alerts) and Kubernetes workloads, then places that
# are not workloads (a Lambda function, a database instance, a table, a queue, a cache cluster,
# a bucket), then the generic `app` labels, then a container outside Kubernetes (the Compose
# service cAdvisor reads from a container's labels, OpenTelemetry's `container.name`); `job`,
# `instance` and `host` name a scrape target and come last
PLACE_LABELS = ("service", "service_name", "sloth_service", "deployment", "statefulset",
                "daemonset", "function_name", "functionname", "dbinstance_identifier",
                "db_instance_identifier", "db_instance", "database", "table", "tablename",
                "table_name", "queue", "queue_name", "queuename", "topic", "topic_name",
                "stream_name", "api_name", "target_group", "load_balancer", "cluster_name",
                "cache_cluster_id", "bucket", "bucket_name", "instance_id", "app",
                "app_kubernetes_io_name", "container_label_com_docker_compose_service",
                "com_docker_compose_service", "container_name", "job", "instance", "host")
_TARGET_LABELS = ("job", "instance", "host")


def named_place(labels: dict[str, str]) -> str:
    """Return the place a series' labels name (not its scrape target), or ''."""
    return next((labels[k] for k in PLACE_LABELS if k not in _TARGET_LABELS and labels.get(k)),
                "")


def targets_of(labels: dict[str, str]) -> list[str]:
    """Return the scrape targets a series' or an alert's labels name, in the order that places
    it: its `job`, the host of its `instance`, its `host`."""
    return [probed(labels)[1] or labels[k].split(":")[0] if k == "instance" else labels[k]
            for k in _TARGET_LABELS if labels.get(k)]


def probed(labels: dict[str, str]) -> Entity:
    """Return the (namespace, host) an `instance` that is a URL names, or ("", "").

    A prober (the blackbox exporter) has its target relabelled as `instance`: a URL, never a
    scraped `host:port`. Its series and alerts are about that endpoint, not the prober's job.
    An in-cluster host (`checkout.shop.svc.cluster.local`) is a Service and its namespace.
    """
    url = labels.get("instance", "")
    if "://" not in url:
        return ("", "")
    host = urlsplit(url).hostname or ""
    parts = host.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return (parts[1], parts[0])
    return ("", host)


@dataclass
class Index:
    """Lookups over one evidence snapshot."""

    snapshot: EvidenceSnapshot
    by_kind: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    rs_owner: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    # (namespace, pod) -> its workload, from kube-state-metrics' owner series
    pod_owner: dict[tuple[str, str], str] = field(default_factory=dict)
    workloads: dict[Entity, str] = field(default_factory=dict)  # -> kind
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    service_ns: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    events: dict[tuple[str, str, str], list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list))
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods_on_node: dict[str, list[tuple[str, str]]] = field(
        default_factory=lambda: defaultdict(list))
    db_services: set[str] = field(default_factory=set)
    node_names: set[str] = field(default_factory=set)  # nodes known from objects or series
    node_addresses: dict[str, str] = field(default_factory=dict)  # a node's IP -> its name
    # scrape targets (`job`, the host of `instance`, `host`) of series no other label places,
    # each to the place those series are about (their first target label): a plain Prometheus
    # names a service by its job
    targets: dict[str, str] = field(default_factory=dict)
    # a Service named otherwise than the one workload its selector picks (`kube-dns` ->
    # `coredns`): (namespace, Service) -> the workload
    service_workload: dict[Entity, str] = field(default_factory=dict)
    rollovers: list[Rollover] = field(default_factory=list)  # pods a new ReplicaSet replaced
    _points: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    _roles: dict[int, str] = field(default_factory=dict)

    def points(self, series: Series) -> list[tuple[float, float]]:
        """Return a series' finite samples as (unix seconds, value), parsed once per snapshot."""
        key = id(series)
        if key not in self._points:
            self._points[key] = finite_samples(series)
        return self._points[key]

    def role(self, series: Series) -> str:
        """Return the canonical name whose role a series plays (`roles.role_of`), read once
        per snapshot."""
        key = id(series)
        if key not in self._roles:
            self._roles[key] = role_of(series, self.points(series))
        return self._roles[key]

    @classmethod
    def build(cls, snapshot: EvidenceSnapshot) -> Index:
        """Index a snapshot's objects, series labels and topology."""
        # labels about what a series measures (`own_labels`), series finer than a minute
        # at one-minute steps (resolution.py), a mesh's calls as
        # measurements of their callees (sensors/mesh.py), and a raw exporter's counters and
        # histograms as the golden signals they count (families.py)
        pods = [o for o in snapshot.objects if isinstance(o, dict) and o.get("kind") == "Pod"]
        addresses = node_addresses(snapshot.objects)
        # a series with no label at all may name its place in its metric name (labels.py)
        known = {n for edge in snapshot.topology for n in edge} | {
            named_place(a.labels) for a in snapshot.alerts}
        series = derive(at_callee(at_minutes(own_series(
            placed_by_name(snapshot.series, known - {""}), addresses))), finite_samples, pods)
        if series is not snapshot.series:
            snapshot = snapshot.model_copy(update={"series": series})
        ix = cls(snapshot=snapshot)
        for raw in snapshot.objects:
            if isinstance(raw, dict) and isinstance(raw.get("kind"), str):
                obj = repair(raw)
                ix.by_kind[obj["kind"]].append(obj)
        ix._add_documented(objects_from_documents(snapshot.documents, snapshot.now))
        for rs in ix.by_kind["ReplicaSet"]:
            m = meta(rs)
            for ref in m.get("ownerReferences") or []:
                if ref.get("kind") in ("Deployment", "Rollout"):
                    ix.rs_owner[(m.get("namespace", ""), m.get("name", ""))] = (
                        "Deployment", ref.get("name", ""))
        for kind in ("Deployment", "StatefulSet", "DaemonSet"):
            for obj in ix.by_kind[kind]:
                m = meta(obj)
                ns, name = m.get("namespace", ""), m.get("name", "")
                ix.workloads[(ns, name)] = kind
                ix.service_ns[name].add(ns)
        for svc in ix.by_kind["Service"]:
            m = meta(svc)
            ix.service_ns[m.get("name", "")].add(m.get("namespace", ""))
        ix.node_addresses = addresses
        ix.pod_owner = owners_in_series(snapshot.series)
        for node in ix.by_kind["Node"]:
            ix.nodes[meta(node).get("name", "")] = node
        for pod in ix.by_kind["Pod"]:
            m = meta(pod)
            key = (m.get("namespace", ""), m.get("name", ""))
            ix.pods[key] = pod
            node_name = str((pod.get("spec") or {}).get("nodeName") or "")
            if node_name:
                ix.pods_on_node[node_name].append(key)
        ix._map_services()
        for ev in ix.by_kind["Event"]:
            inv = ev.get("involvedObject") or {}
            ns = inv.get("namespace") or meta(ev).get("namespace", "")
            if inv.get("kind") == "Node":
                ns = ""
            ix.events[(inv.get("kind", ""), ns, inv.get("name", ""))].append(ev)
        pods_seen: set[tuple[str, str, str]] = set()  # (namespace, pod, container)
        # the nodes some series names by a node label, before any series is judged by its
        # scrape target: a target is that node whichever series comes first
        ix.node_names |= {name for s in snapshot.series
                          if not s.metric.get("pod") and (name := node_label(s.metric))}
        for s in snapshot.series:
            label_ns, label_svc = s.metric.get("namespace"), named_place(s.metric)
            if label_ns is not None and label_svc:
                ix.service_ns[label_svc].add(label_ns)
                if is_database_series(s):
                    ix.db_services.add(label_svc)
            elif label_ns and s.metric.get("pod"):
                pods_seen.add((label_ns, s.metric["pod"], s.metric.get("container", "")))
            if about_node := ix.node_of(s.metric):
                ix.node_names.add(about_node)
            elif not label_svc and not s.metric.get("pod") and not probed(s.metric)[1]:
                named = targets_of(s.metric)
                for target in named:
                    ix.targets.setdefault(target, named[0])
        ix.node_names |= set(ix.nodes)
        for ns, pod_name, container in pods_seen:  # a workload known by its pods' series only
            ix.service_ns[ix.owner_of_pod(ns, pod_name, container)[1]].add(ns)
        # a name some series give without a namespace (a service graph's `server`) that
        # everything else gives in one namespace is that one place (`namespace_of`)
        for spaces in ix.service_ns.values():
            if "" in spaces and len(spaces) == 2:
                spaces.discard("")
        # a replaced pod's series continues as its successor's (see rollovers.py)
        series, ix.rollovers = stitch(snapshot.series, ix.owner_of_pod, ix.points)
        if ix.rollovers:
            ix.snapshot = snapshot.model_copy(update={"series": series})
        return ix

    def _add_documented(self, objects: list[dict[str, Any]]) -> None:
        """Add objects read from kubectl text unless the API objects already say the same."""
        pods = {(meta(p).get("namespace", ""), meta(p).get("name", ""))
                for p in self.by_kind["Pod"]}
        seen = {((e.get("involvedObject") or {}).get("kind", ""),
                 (e.get("involvedObject") or {}).get("name", ""), e.get("reason", ""))
                for e in self.by_kind["Event"]}
        for obj in objects:
            m = obj["metadata"]
            if obj["kind"] == "Pod":
                if (m["namespace"], m["name"]) not in pods:
                    pods.add((m["namespace"], m["name"]))
                    self.by_kind["Pod"].append(obj)
                continue
            inv = obj["involvedObject"]
            key = (inv["kind"], inv["name"], obj["reason"])
            if key not in seen:
                seen.add(key)
                self.by_kind["Event"].append(obj)

    def owner_of_pod(self, namespace: str, pod: str, container: str = "") -> Entity:
        """Return (namespace, workload) owning a pod: ownerReferences first, then its name
        (and the name of the container it runs, when the pod's name starts with it)."""
        obj = self.pods.get((namespace, pod))
        if obj is not None:
            m = meta(obj)
            for ref in m.get("ownerReferences") or []:
                kind, name = ref.get("kind", ""), ref.get("name", "")
                if kind == "ReplicaSet":
                    owner = self.rs_owner.get((namespace, name))
                    if owner:
                        return (namespace, owner[1])
                    return (namespace, name.rsplit("-", 1)[0])
                if kind in ("StatefulSet", "DaemonSet", "Job", "Deployment"):
                    return (namespace, name)
            labels = m.get("labels") or {}
            for label in ("app.kubernetes.io/name", "app", "k8s-app"):
                if labels.get(label) and (namespace, labels[label]) in self.workloads:
                    return (namespace, labels[label])
        elif (namespace, pod) in self.pod_owner:
            return (namespace, self.pod_owner[(namespace, pod)])
        return (namespace, self.workload_from_name(namespace, pod, container))

    def stream_owner(self, stream: LogStream) -> Entity:
        """Return the (namespace, workload) a log stream is from: its pod's, else its
        container's."""
        if stream.pod:
            return self.owner_of_pod(stream.namespace, stream.pod, stream.container or "")
        return (stream.namespace, stream.container or "")

    def workload_from_name(self, namespace: str, pod: str, container: str = "") -> str:
        """Guess a pod's workload from its name: a deployment's hash suffix, else the name of
        the container it runs when the pod's name starts with it (a pod is named after its
        workload, and most workloads after their main container), else an ordinal."""
        for (ns, name) in self.workloads:
            if ns == namespace and (pod.startswith(name + "-")):
                rest = pod[len(name) + 1:]
                if HASH_POD.match(f"x-{rest}") or rest.isdigit() or re.fullmatch(
                        r"[a-z0-9]{5}", rest):
                    return name
        m = HASH_POD.match(pod)
        if m:
            return m.group("base")
        if container and pod.startswith(container + "-"):
            return container
        m2 = _ORDINAL.match(pod)
        return m2.group("base") if m2 else pod

    def namespace_of(self, name: str, prefer: str = "") -> str | None:
        """Return the namespace of a service or workload by bare name; None when unknown."""
        spaces = self.service_ns.get(name)
        if not spaces:
            return None
        if prefer in spaces:
            return prefer
        non_empty = sorted(s for s in spaces if s)
        return non_empty[0] if non_empty else ""

    def node_of(self, labels: dict[str, str]) -> str:
        """Return the node a series' or an alert's labels are about, or '': a node label, or a
        scrape target (`instance`, `host`) that is a known node by its name or its address, as
        a host-network exporter's is. A pod's series is the pod's."""
        if labels.get("pod"):
            return ""
        if name := node_label(labels):
            return name
        for host in (labels.get("instance", "").rsplit(":", 1)[0], labels.get("host", "")):
            if host and (host in self.nodes or host in self.node_names):
                return host
            if host in self.node_addresses:
                return self.node_addresses[host]
        return ""

    def _map_services(self) -> None:
        """Map each Service whose selector picks the pods of one workload named otherwise."""
        labelled: dict[str, list[tuple[dict[str, Any], str]]] = defaultdict(list)
        for (ns, pod), obj in self.pods.items():
            labelled[ns].append((meta(obj).get("labels") or {}, pod))
        for svc in self.by_kind["Service"]:
            m, selector = meta(svc), (svc.get("spec") or {}).get("selector")
            ns, name = m.get("namespace", ""), m.get("name", "")
            if not selector or not isinstance(selector, dict):
                continue
            owners = {self.owner_of_pod(ns, pod)[1] for labels, pod in labelled[ns]
                      if selector.items() <= labels.items()}
            if len(owners) == 1 and (owner := owners.pop()) != name:
                self.service_workload[(ns, name)] = owner

    def workload_of(self, entity: Entity) -> Entity:
        """Return the workload a place named by a Service is (`service_workload`), else it."""
        return (entity[0], self.service_workload.get(entity, entity[1]))

    def entity(self, name: str, prefer: str = "") -> Entity:
        """Resolve a bare topology name to an entity; unknown dotted names are external hosts."""
        ns = self.namespace_of(name, prefer)
        if ns is not None:
            return self.workload_of((ns, name))
        if name in self.node_names:
            return ("", name)
        return ("", name) if "." in name else (prefer, name)

    def probed_entity(self, labels: dict[str, str], prefer: str = "") -> Entity | None:
        """Return the place a prober's series or alert is about (`probed`), or None."""
        ns, host = probed(labels)
        return self.entity(host, ns or prefer) if host else None

    def pvc_owner(self, namespace: str, claim: str) -> Entity:
        """Return the StatefulSet (or workload) that owns a PersistentVolumeClaim."""
        for (ns, name), kind in self.workloads.items():
            if ns == namespace and kind == "StatefulSet" and re.search(
                    rf"(^|-){re.escape(name)}-\d+$", claim):
                return (ns, name)
        for pod_key, pod in self.pods.items():
            if pod_key[0] != namespace:
                continue
            for vol in (pod.get("spec") or {}).get("volumes") or []:
                if (vol.get("persistentVolumeClaim") or {}).get("claimName") == claim:
                    return self.owner_of_pod(*pod_key)
        m = _ORDINAL.match(claim)
        base = m.group("base") if m else claim
        return (namespace, base.removeprefix("data-"))

    def kind_of(self, entity: Entity) -> str:
        """Return the workload kind of an entity ("" when it is not a known workload)."""
        return self.workloads.get(entity, "")

    def pod_node(self, namespace: str, pod: str) -> str:
        """Return the node a pod is scheduled on ("" when unscheduled or unknown)."""
        obj = self.pods.get((namespace, pod)) or {}
        return str((obj.get("spec") or {}).get("nodeName") or "")

    def is_database(self, entity: Entity) -> bool:
        """Tell whether an entity looks like a database (db series, or a stateful -db)."""
        name = entity[1]
        if name in self.db_services:
            return True
        return self.kind_of(entity) == "StatefulSet" and any(
            t in name for t in ("db", "postgres", "mysql", "mongo", "sql"))
