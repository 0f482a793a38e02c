"""Small builders for hand-made evidence: Kubernetes objects, series, alerts, snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from warroom.sensors.models import AlertView, Change, EvidenceSnapshot, LogStream, Series

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ts(minutes_ago: float) -> str:
    """Return an RFC 3339 stamp `minutes_ago` before NOW."""
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def deployment(ns: str, name: str, rs: str = "7f9dd8b6c4", memory: str = "512Mi",
               replicas: int = 2) -> list[dict[str, Any]]:
    """Return a Deployment and its current ReplicaSet."""
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns},
         "spec": {"replicas": replicas}, "status": {"replicas": replicas}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": f"{name}-{rs}", "namespace": ns,
                      "ownerReferences": [{"kind": "Deployment", "name": name,
                                           "controller": True}]}},
    ]


def statefulset(ns: str, name: str) -> dict[str, Any]:
    """Return a StatefulSet."""
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": ns}, "spec": {"replicas": 1}}


def pod(ns: str, name: str, owner: tuple[str, str], *, node: str = "node-1",
        memory: str = "512Mi", state: dict[str, Any] | None = None,
        last: dict[str, Any] | None = None, restarts: int = 0, ready: bool = True,
        phase: str = "Running", conditions: list[dict[str, Any]] | None = None,
        image: str = "registry/app:1.0") -> dict[str, Any]:
    """Return a Pod owned by (kind, name) with one container named after its workload."""
    container = owner[1].rsplit("-", 1)[0] if owner[0] == "ReplicaSet" else owner[1]
    cs: dict[str, Any] = {"name": container, "image": image, "ready": ready,
                          "restartCount": restarts,
                          "state": state or {"running": {"startedAt": ts(600)}}}
    if last:
        cs["lastState"] = {"terminated": last}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns,
                     "ownerReferences": [{"kind": owner[0], "name": owner[1],
                                          "controller": True}]},
        "spec": {"nodeName": node, "containers": [
            {"name": container, "image": image,
             "resources": {"limits": {"memory": memory, "cpu": "500m"}}}]},
        "status": {"phase": phase, "conditions": conditions or [],
                   "containerStatuses": [cs]},
    }


def node(name: str, ready: str = "True", reason: str = "KubeletReady",
         **pressure: str) -> dict[str, Any]:
    """Return a Node with a Ready condition and optional pressure conditions (True/False)."""
    conds = [{"type": "Ready", "status": ready, "reason": reason,
              "lastTransitionTime": ts(12), "message": "kubelet says so"}]
    conds += [{"type": t, "status": s, "reason": t} for t, s in pressure.items()]
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": conds}}


def event(kind: str, ns: str, name: str, reason: str, message: str, *, count: int = 5,
          etype: str = "Warning", minutes_ago: float = 5) -> dict[str, Any]:
    """Return a v1 Event about an object."""
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{name}.1", "namespace": ns or "default"},
            "involvedObject": {"kind": kind, "name": name, "namespace": ns},
            "reason": reason, "message": message, "type": etype, "count": count,
            "firstTimestamp": ts(minutes_ago + 5), "lastTimestamp": ts(minutes_ago)}


def series(name: str, values: list[float], **labels: str) -> Series:
    """Return a one-minute-step series ending at NOW."""
    end = NOW.timestamp()
    n = len(values)
    return Series(metric={"__name__": name, **labels},
                  values=[(end - 60 * (n - 1 - i), f"{v:.6g}") for i, v in enumerate(values)])


def flat(level: float, n: int = 40, jitter: float = 0.03) -> list[float]:
    """Return a steady series with a small deterministic wiggle."""
    return [level * (1 + jitter * ((i * 7) % 5 - 2) / 2) for i in range(n)]


def stepped(level: float, to: float, at: int = 30, n: int = 40) -> list[float]:
    """Return a steady series that jumps to `to` from index `at`."""
    base = flat(level, n)
    return [v if i < at else to * (1 + 0.02 * ((i * 3) % 3 - 1)) for i, v in enumerate(base)]


def alert(labels: dict[str, str], *, status: str = "firing", minutes_ago: float = 8) -> AlertView:
    """Return a firing alert."""
    return AlertView(status=status, labels={"alertname": "HighErrorRate", **labels},  # type: ignore[arg-type]
                     starts_at=NOW - timedelta(minutes=minutes_ago))


def change(kind: str, target: str, minutes_ago: float, description: str = "") -> Change:
    """Return a change-feed entry."""
    return Change(time=NOW - timedelta(minutes=minutes_ago), kind=kind,  # type: ignore[arg-type]
                  target=target, description=description)


def logs(ns: str, pod: str, lines: list[str], previous: bool = False) -> LogStream:
    """Return a log stream of one pod."""
    return LogStream(namespace=ns, pod=pod, container=pod.split("-")[0], previous=previous,
                     lines=lines)


def snapshot(**parts: Any) -> EvidenceSnapshot:
    """Return an evidence snapshot at NOW from the given parts."""
    return EvidenceSnapshot(now=NOW, **parts)
