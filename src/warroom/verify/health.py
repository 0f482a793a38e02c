"""Reduce an evidence snapshot to per-service health, and compare two of them.

Health per `namespace/service`: the last error ratio, the highest memory and CPU saturation of
its pods, their container restarts and how many pods are not ready. The verifier compares the
pre-execution and post-execution health of the decision's target (did the root-cause signal
clear?) and of every other service (did anything regress?).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from warroom.sensors.models import EvidenceData

ERROR_OK = 0.05  # error ratio at or under this is healthy
SATURATION_OK = 0.9  # memory / CPU ratio under this is healthy
ERROR_RISE = 0.05  # an error ratio rising more than this elsewhere is a regression
# a series whose newest sample is this much older than the snapshot's newest has ended (a pod
# deleted by the rollout, say); Prometheus' own look-back delta is the same five minutes
STALE_AFTER_SECONDS = 300.0
_POD_SUFFIX = re.compile(r"-[a-z0-9]{8,10}-[a-z0-9]{5}$|-[a-z0-9]{5}$|-\d+$")


class ServiceHealth(BaseModel):
    error_ratio: float | None = None
    memory: float | None = None
    cpu: float | None = None
    restarts: int = 0
    not_ready: int = 0
    pods: int = 0

    def healthy(self) -> bool:
        """Tell whether every indicator that was measured is within bounds."""
        return (
            (self.error_ratio is None or self.error_ratio <= ERROR_OK)
            and (self.memory is None or self.memory < SATURATION_OK)
            and (self.cpu is None or self.cpu < SATURATION_OK)
            and self.not_ready == 0
        )

    def measured(self) -> bool:
        """Tell whether the snapshot said anything about this service."""
        return any(v is not None for v in (self.error_ratio, self.memory, self.cpu)) or bool(
            self.pods
        )


def workload_of_pod(pod: dict[str, Any]) -> str:
    """Return the workload name a pod belongs to (its app label, else its name's stem)."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    for key in ("app.kubernetes.io/name", "app", "k8s-app"):
        if labels.get(key):
            return str(labels[key])
    return _POD_SUFFIX.sub("", str(meta.get("name", "")))


def _last(values: list[tuple[float, str]]) -> float | None:
    for _, raw in reversed(values):
        try:
            return float(raw)
        except ValueError:
            continue
    return None


def summarize(data: EvidenceData) -> dict[str, ServiceHealth]:
    """Return the health of every service the snapshot mentions, keyed `namespace/service`."""
    out: dict[str, ServiceHealth] = {}

    def entry(namespace: str, service: str) -> ServiceHealth:
        return out.setdefault(f"{namespace}/{service}", ServiceHealth())

    pod_service: dict[tuple[str, str], str] = {}
    for obj in data.objects:
        if obj.get("kind") != "Pod":
            continue
        meta = obj.get("metadata") or {}
        namespace, service = str(meta.get("namespace", "")), workload_of_pod(obj)
        pod_service[(namespace, str(meta.get("name", "")))] = service
        health = entry(namespace, service)
        health.pods += 1
        statuses = (obj.get("status") or {}).get("containerStatuses") or []
        health.restarts += sum(int(s.get("restartCount", 0) or 0) for s in statuses)
        if any(not s.get("ready", True) for s in statuses):
            health.not_ready += 1
    newest = max((float(s.values[-1][0]) for s in data.series if s.values), default=0.0)
    for series in data.series:
        if not series.values or float(series.values[-1][0]) < newest - STALE_AFTER_SECONDS:
            continue
        value = _last(series.values)
        if value is None:
            continue
        labels = series.metric
        namespace = labels.get("namespace", "")
        if series.name == "service:errors:ratio_rate1m":
            entry(namespace, labels.get("service", "")).error_ratio = value
            continue
        field = {"pod:memory_working_set:ratio": "memory", "pod:cpu_usage:ratio": "cpu"}.get(
            series.name
        )
        if field is None:
            continue
        pod = labels.get("pod", "")
        service = pod_service.get((namespace, pod)) or _POD_SUFFIX.sub("", pod)
        health = entry(namespace, service)
        current = getattr(health, field)
        setattr(health, field, value if current is None else max(current, value))
    return out


def regressions(
    pre: dict[str, ServiceHealth], post: dict[str, ServiceHealth], *, exclude: str
) -> list[str]:
    """List what got worse outside the target: new restarts, a rise in errors."""
    found = []
    for key, after in sorted(post.items()):
        if key == exclude:
            continue
        before = pre.get(key, ServiceHealth())
        if after.restarts > before.restarts:
            found.append(f"{key}: {after.restarts - before.restarts} new restarts")
        if after.error_ratio is not None and after.error_ratio - (
            before.error_ratio or 0.0
        ) > ERROR_RISE:
            found.append(
                f"{key}: error ratio {before.error_ratio or 0.0:.3f} -> {after.error_ratio:.3f}"
            )
    return found


def target_cleared(before: ServiceHealth | None, after: ServiceHealth | None) -> bool | None:
    """Tell whether the target's root-cause signal cleared; None when nothing was measured."""
    if after is None or not after.measured():
        return None
    new_restarts = before is not None and after.restarts > before.restarts
    return after.healthy() and not new_restarts
