"""A container's usage as a share of its limits, from cAdvisor and kube-state-metrics.

cAdvisor exports a container's CPU seconds and working set in absolute units; the fingerprint
rules read shares of the limit (`pod:cpu_usage:ratio`...), as the recording rules of `deploy/`
compute them. Where a limit is known (kube-state-metrics' `kube_pod_container_resource_limits`,
or the Pod's `resources.limits`) the usage becomes that share, and throttled CFS periods a share
of all periods, so a container at its limit reads the same with the rules or without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from warroom.agents.diagnostician.counters import (
    Points,
    counter_increases,
    counter_rates,
    derived_series,
    without_labels,
)
from warroom.domain.quantities import amount
from warroom.sensors.models import Series

# a container's usage as cAdvisor exports it -> the share of its limit the fingerprints read
_CPU_SECONDS = "container_cpu_usage_seconds_total"
_MEMORY_BYTES = "container_memory_working_set_bytes"
_THROTTLED, _PERIODS = ("container_cpu_cfs_throttled_periods_total",
                        "container_cpu_cfs_periods_total")
_SHARES = {_CPU_SECONDS: ("cpu", "container_cpu_usage_ratio"),
           _MEMORY_BYTES: ("memory", "container_memory_working_set_ratio")}
_LIMITS = "kube_pod_container_resource_limits"
_OLD_LIMITS = {"kube_pod_container_resource_limits_cpu_cores": "cpu",
               "kube_pod_container_resource_limits_memory_bytes": "memory"}
# the recording rules (`deploy/recording-rules.yaml`) whose place a derived share would take
_RECORDED = {"cpu": "pod:cpu_usage:ratio", "memory": "pod:memory_working_set:ratio",
             "throttled": "pod:cpu_throttled:ratio"}
Container = tuple[str, str, str]  # namespace, pod, container


def _container(labels: dict[str, str]) -> Container | None:
    pod, container = labels.get("pod", ""), labels.get("container", "")
    if not pod or container in ("", "POD"):
        return None
    return (labels.get("namespace", ""), pod, container)


def _limits(series: list[Series], points: Callable[[Series], Points],
            pods: list[dict[str, Any]]) -> dict[tuple[Container, str], float]:
    """Return each container's CPU (cores) and memory (bytes) limits: kube-state-metrics'
    newest sample, else the Pod's spec."""
    out: dict[tuple[Container, str], float] = {}
    for pod in pods:
        meta = pod.get("metadata") or {}
        for c in (pod.get("spec") or {}).get("containers") or []:
            limits = (c.get("resources") or {}).get("limits") or {}
            for resource in ("cpu", "memory"):
                value = amount(limits.get(resource, ""), resource)
                if value:
                    out[((meta.get("namespace", ""), meta.get("name", ""), c.get("name", "")),
                         resource)] = value
    for s in series:
        name = s.metric.get("__name__", "")
        resource = s.metric.get("resource", "") if name == _LIMITS else _OLD_LIMITS.get(name, "")
        where = _container(s.metric)
        pts = points(s) if resource in ("cpu", "memory") and where else []
        if where and pts and pts[-1][1] > 0:
            out[(where, resource)] = pts[-1][1]
    return out


def container_shares(series: list[Series], points: Callable[[Series], Points],
                      pods: list[dict[str, Any]]) -> list[Series]:
    """Replace cAdvisor's usage of each container with a known limit by its share of it."""
    if not any(s.metric.get("__name__") in (_CPU_SECONDS, _MEMORY_BYTES, _THROTTLED)
               for s in series):
        return series
    limits = _limits(series, points, pods)
    recorded = {(s.metric.get("namespace", ""), s.metric.get("pod", ""), s.metric["__name__"])
                for s in series if s.metric.get("__name__") in _RECORDED.values()}
    periods = {_container(s.metric): s for s in series
               if s.metric.get("__name__") == _PERIODS and _container(s.metric)}
    out: list[Series] = []
    derived: list[Series] = []
    used: set[int] = set()  # the periods a throttled share was taken of
    for s in series:
        name = s.metric.get("__name__", "")
        where = _container(s.metric)
        if where is None or name not in (*_SHARES, _THROTTLED):
            out.append(s)
            continue
        resource, share = _SHARES.get(name, ("throttled", "container_cpu_cfs_throttled_ratio"))
        if (where[0], where[1], _RECORDED[resource]) in recorded:
            out.append(s)  # the recording rule already says it
            continue
        labels = without_labels(s.metric, ())
        if name == _THROTTLED:
            whole = periods.get(where)
            if whole is None:
                out.append(s)
                continue
            throttled, all_periods = counter_increases(s, points), counter_increases(whole, points)
            pts = [(t, throttled[t] / n) for t, n in sorted(all_periods.items())
                   if n > 0 and t in throttled]
            used.add(id(whole))
        elif (where, resource) not in limits:
            out.append(s)
            continue
        elif name == _CPU_SECONDS:
            pts = [(t, rate / limits[(where, resource)]) for t, rate in counter_rates(s, points)]
        else:
            pts = [(t, v / limits[(where, resource)]) for t, v in sorted(points(s))]
        derived.append(derived_series(share, labels, pts))
    return [*[s for s in out if id(s) not in used], *[s for s in derived if s.values]]
