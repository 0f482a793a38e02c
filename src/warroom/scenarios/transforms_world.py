"""The transforms that reshape a scenario's world: `rename` and `noise`, and their helpers.

Both rewrite names consistently everywhere a scenario names a workload (labels, topology, log
streams and lines, Kubernetes objects, change targets, documents, `expected`), with one regex
that also renames pod-style names (`checkout-7f9dd8b6c4-x7gr9`) by their workload prefix.
"""

from __future__ import annotations

import copy
import math
import random
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from warroom.safety.rules import callers_of
from warroom.scenarios.generator_world import successor_pod
from warroom.scenarios.models import Scenario
from warroom.sensors.models import Series

_WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service")
_CLONED = ("Deployment", "ReplicaSet", "Pod", "Service", "Endpoints", "HorizontalPodAutoscaler")
_APP_KINDS = ("Lambda::Function", "ECS::Fargate", "ECS::Service", "EC2::Instance")
_DATA_KINDS = ("RDS::DBInstance", "DynamoDB::Table", "ElastiCache::CacheCluster")
_FIRST = ("ledger", "quota", "geo", "audit", "rating", "banner", "profile", "session", "locale",
          "receipt", "wishlist", "coupon", "loyalty", "shipping", "tax", "image", "thumbnail",
          "feature", "consent", "survey", "referral", "badge", "archive", "digest")
_SECOND = ("sync", "lookup", "worker", "api", "cache", "indexer", "gateway", "store",
           "resolver", "relay", "scheduler", "exporter", "reader", "writer")
_POD_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def namespaces(scenario: Scenario) -> dict[str, str]:
    """Map every workload the scenario names with a namespace to that namespace."""
    out: dict[str, str] = {}
    for s in scenario.prometheus.series:
        if s.metric.get("service") and s.metric.get("namespace"):
            out.setdefault(s.metric["service"], s.metric["namespace"])
    for w in scenario.alerts:
        for a in w.alerts:
            if a.labels.get("service") and a.labels.get("namespace"):
                out.setdefault(a.labels["service"], a.labels["namespace"])
    for o in scenario.kubernetes.objects:
        meta = o.get("metadata") or {}
        if o.get("kind") in _WORKLOADS and meta.get("name") and meta.get("namespace"):
            out.setdefault(str(meta["name"]), str(meta["namespace"]))
    if scenario.expected is not None:
        for r in (scenario.expected.root_cause, *scenario.expected.also_root_cause):
            if r.namespace:
                out.setdefault(r.service, r.namespace)
    return out


def workload_kind(scenario: Scenario, name: str) -> str:
    """Return the lower-case kind of the workload called `name` (deployment when unknown)."""
    for o in scenario.kubernetes.objects:
        if (o.get("kind") in ("StatefulSet", "DaemonSet")
                and (o.get("metadata") or {}).get("name") == name):
            return str(o["kind"]).lower()
    return "deployment"


def roll_pods(series: list[Series], ns: str, name: str, at: datetime) -> list[Series]:
    """Return `series` with a rollout of Deployment `name` at `at` in its pods' series.

    As in a real cluster's metrics: each pod's series stop before `at` and a pod of the new
    ReplicaSet (new template hash) reports its values from `at` on.
    """
    own = re.compile(rf"^{re.escape(name)}-[a-z0-9]{{5,10}}-[a-z0-9]{{5}}$")
    cut = at.timestamp()
    out: list[Series] = []
    for s in series:
        pod = s.metric.get("pod", "")
        if s.metric.get("namespace", "") != ns or not own.match(pod):
            out.append(s)
            continue
        before = [v for v in s.values if v[0] < cut]
        after = [v for v in s.values if v[0] >= cut]
        if before:
            out.append(s.model_copy(update={"values": before}))
        if after:
            metric = {**s.metric, "pod": successor_pod(name, pod, at)}
            out.append(s.model_copy(update={"metric": metric, "values": after}))
    return out


def healthy_services(scenario: Scenario) -> list[tuple[str, str]]:
    """Return (namespace, name) of workloads neither at fault nor calling the fault."""
    if scenario.expected is None:
        return []
    roots = [scenario.expected.root_cause, *scenario.expected.also_root_cause]
    sick = {r.service for r in roots}
    for r in roots:
        sick |= callers_of(scenario.topology.edges, r.service)
    return sorted((ns, name) for name, ns in namespaces(scenario).items() if name not in sick)


def _alternation(names: Iterable[str]) -> str:
    """Return a regex alternation of the names, longest first (a longer name wins)."""
    return "|".join(re.escape(n) for n in sorted(set(names), key=lambda n: (-len(n), n)))


def _pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Match a name as a whole word, or as the prefix of a pod-style `name-hash-suffix`."""
    alt = _alternation(names)
    return re.compile(rf"(?<![\w.-])(?:{alt})(?=(?:-[\w*]+)*(?![\w-]))") if alt else None


def _claim_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Match a StatefulSet's name inside its volume claims' names (`<template>-<name>-<n>`)."""
    alt = _alternation(names)
    return re.compile(rf"(?<=\w-)(?:{alt})(?=-\d+(?![\w-]))") if alt else None


def _rewrite(value: Any, pattern: re.Pattern[str], mapping: dict[str, str], ns: str,
             key: str = "", claims: re.Pattern[str] | None = None) -> Any:
    """Rename workloads in every string of `value` (and in their volume claims' names, with
    `claims`); namespaces become `ns`."""
    if isinstance(value, dict):
        return {k: _rewrite(v, pattern, mapping, ns, k, claims) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite(v, pattern, mapping, ns, claims=claims) for v in value]
    if not isinstance(value, str):
        return value
    if key in ("namespace", "exported_namespace"):  # the exporter's, as a scrape renamed it
        return ns if value else value
    if key == "target" and value.count("/") == 2 and not value.startswith("/"):
        _, kind, name = value.split("/")
        if pattern.sub(lambda m: mapping[m.group(0)], name) != name:
            return f"{ns}/{kind}/{pattern.sub(lambda m: mapping[m.group(0)], name)}"
        return value
    value = pattern.sub(lambda m: mapping[m.group(0)], value)
    return claims.sub(lambda m: mapping[m.group(0)], value) if claims else value


def rename(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every workload a non-Kubernetes name (`orders_AWS::Lambda::Function`), no namespace.

    Nodes and hosts outside the cluster keep their names; Namespace objects go (nothing is in
    one any more). Targets `ns/kind/name` of renamed workloads become `/kind/new-name`.
    """
    rng = rng_for(scenario, "rename", seed)
    mapping: dict[str, str] = {}
    for name in sorted(namespaces(scenario)):
        stateful = workload_kind(scenario, name) == "statefulset"
        mapping[name] = f"{name}_AWS::{rng.choice(_DATA_KINDS if stateful else _APP_KINDS)}"
    pattern = _pattern(mapping)
    if pattern is None:
        return scenario
    data = scenario.model_dump(mode="json", by_alias=True)
    fixed = {k: data.pop(k) for k in ("format", "id", "now", "cluster")}
    data["kubernetes"]["objects"] = [o for o in data["kubernetes"]["objects"]
                                     if o.get("kind") != "Namespace"]
    # a StatefulSet's claims carry its name (`data-orders-db-0`), and follow it; so do the
    # claims a series names that way when no object says which workload is a StatefulSet
    pvcs = {s.metric["persistentvolumeclaim"] for s in scenario.prometheus.series
            if s.metric.get("persistentvolumeclaim")}
    claims = _claim_pattern(n for n in mapping if workload_kind(scenario, n) == "statefulset"
                            or any(re.fullmatch(rf"\w[\w.-]*-{re.escape(n)}-\d+", c)
                                   for c in pvcs))
    series = data["prometheus"].pop("series")  # samples name nothing: rewrite labels only
    data = _rewrite(data, pattern, mapping, "", claims=claims)
    data["prometheus"]["series"] = [
        {"metric": _rewrite(s["metric"], pattern, mapping, "", claims=claims),
         "values": s["values"]} for s in series]
    for doc in data.get("documents") or []:  # kubectl's text names namespaces too
        doc["title"], doc["text"] = _no_namespace(doc["title"]), _no_namespace(doc["text"])
    return Scenario.model_validate({**fixed, **data})


_NS_TEXT = [(re.compile(r"\s(?:-n|--namespace)[ =][\w.-]+"), ""),
            (re.compile(r"(k8s\.namespace\.name['\"]?\s*[=:]\s*['\"])[\w.-]+"), r"\1"),
            (re.compile(r"^(Namespace:[ \t]*)\S+", re.M), r"\1"),
            (re.compile(r'("namespace":\s*")[\w.-]+"'), r'\1"')]


def _no_namespace(text: str) -> str:
    """Drop the namespaces kubectl's commands and output and a trace's resource attributes name
    (`-n shop`, `Namespace: shop`, `"namespace": "shop"`, `k8s.namespace.name='shop'`):
    nothing is in one any more."""
    for pattern, repl in _NS_TEXT:
        text = pattern.sub(repl, text)
    return text


def rng_for(scenario: Scenario, name: str, seed: int) -> random.Random:
    """Return the random source of one transform on one scenario (stable across runs)."""
    return random.Random(f"{seed}:{name}:{scenario.id}")


def fresh_names(scenario: Scenario, rng: random.Random, count: int) -> list[str]:
    """Return `count` workload names the scenario does not use yet (`ledger-sync`)."""
    known = set(namespaces(scenario)) | {n for e in scenario.topology.edges for n in e}
    pool = [f"{a}-{b}" for a in _FIRST for b in _SECOND if f"{a}-{b}" not in known]
    return rng.sample(pool, count)


def pod_name(rng: random.Random, name: str) -> str:
    """Return a Deployment's pod name: `name-<ReplicaSet hash>-<suffix>`."""
    return (f"{name}-{''.join(rng.choices(_POD_CHARS, k=10))}-"
            f"{''.join(rng.choices(_POD_CHARS, k=5))}")


def _noisy(rng: random.Random, times: list[float], base: float, cv: float, hi: float | None
           ) -> list[tuple[float, str]]:
    """Return a stationary AR(1) series around `base` with coefficient of variation `cv`."""
    phi, x, out = 0.6, rng.gauss(0, 1), []
    for t in times:
        x = phi * x + math.sqrt(1 - phi * phi) * rng.gauss(0, 1)
        v = max(0.0, base * (1 + cv * x))
        out.append((t, f"{min(v, hi) if hi is not None else v:.6g}"))
    return out


def _clone(scenario: Scenario, template: tuple[str, str], name: str, ns: str
           ) -> list[dict[str, Any]]:
    """Copy a healthy workload's objects (no events) under a new name and namespace."""
    t_ns, t_name = template
    pattern = _pattern([t_name])
    assert pattern is not None
    out = []
    for o in scenario.kubernetes.objects:
        meta = o.get("metadata") or {}
        obj_name = str(meta.get("name", ""))
        if (o.get("kind") in _CLONED and meta.get("namespace") == t_ns
                and (obj_name == t_name or obj_name.startswith(f"{t_name}-"))):
            out.append(_rewrite(copy.deepcopy(o), pattern, {t_name: name}, ns))
    return out


def noise(scenario: Scenario, seed: int = 0, count: int = 20) -> Scenario:
    """Add `count` healthy services with noisy but stationary metrics to the call graph.

    Each is wired as a callee or a caller of one healthy service (when there is a topology)
    and, when the scenario has Kubernetes objects, gets a copy of a healthy workload's
    objects. Its series share the sample times of the scenario's longest series.
    """
    rng = rng_for(scenario, "noise", seed)
    longest = max(scenario.prometheus.series, key=lambda s: len(s.values), default=None)
    if longest is None:
        return scenario
    times = [t for t, _ in longest.values]
    names = fresh_names(scenario, rng, count)
    healthy = healthy_services(scenario)
    in_graph = {n for e in scenario.topology.edges for n in e}
    anchors = [h for h in healthy if h[1] in in_graph]
    spaces = sorted({ns for ns, _ in healthy}) or [""]
    deployed = {(str((o.get("metadata") or {}).get("namespace", "")),
                 str((o.get("metadata") or {}).get("name", "")))
                for o in scenario.kubernetes.objects if o.get("kind") == "Deployment"}
    templates = [h for h in healthy if h in deployed]
    series, edges = list(scenario.prometheus.series), list(scenario.topology.edges)
    objects = list(scenario.kubernetes.objects)
    for name in names:
        anchor = rng.choice(anchors) if anchors else None
        ns = anchor[0] if anchor else rng.choice(spaces)
        if anchor is not None:  # a leaf (a database, a host) is only ever called
            calls = any(a == anchor[1] for a, _ in edges) and rng.random() < 0.5
            edges.append((anchor[1], name) if calls else (name, anchor[1]))
        cloned = _clone(scenario, rng.choice(templates), name, ns) if templates else []
        objects.extend(cloned)
        pods = [str(o["metadata"]["name"]) for o in cloned if o.get("kind") == "Pod"]
        pods = pods or [pod_name(rng, name) for _ in range(2)]
        svc = {"namespace": ns, "service": name}
        p99 = rng.uniform(0.05, 0.6)
        for metric, values in (
            ("service:requests:rate1m", _noisy(rng, times, rng.uniform(5, 400), 0.25, None)),
            ("service:errors:ratio_rate1m", _noisy(rng, times, rng.uniform(0.001, 0.01), 0.6,
                                                   1.0)),
            ("service:latency_seconds:p99_1m", _noisy(rng, times, p99, 0.3, None)),
            ("service:latency_seconds:p50_1m", _noisy(rng, times, p99 * 0.3, 0.2, None)),
        ):
            series.append(Series(metric={"__name__": metric, **svc}, values=values))
        for pod in pods:
            labels = {"namespace": ns, "pod": pod, "container": name}
            series.append(Series(metric={"__name__": "pod:cpu_usage:ratio", **labels},
                                 values=_noisy(rng, times, rng.uniform(0.1, 0.6), 0.2, 1.0)))
            series.append(Series(metric={"__name__": "pod:memory_working_set:ratio", **labels},
                                 values=_noisy(rng, times, rng.uniform(0.3, 0.7), 0.03, 1.0)))
    return scenario.model_copy(update={
        "prometheus": scenario.prometheus.model_copy(update={"series": series}),
        "topology": scenario.topology.model_copy(update={"edges": edges}),
        "kubernetes": scenario.kubernetes.model_copy(update={"objects": objects})})
