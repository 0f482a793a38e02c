"""A small cluster in raw Kubernetes objects, for the debate's tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from warroom.agents.models import DiagnosisReport, Hypothesis
from warroom.agents.ports import DebateContext
from warroom.sensors.models import EvidenceSnapshot, SensorRun, Series

NOW = datetime(2026, 4, 18, 10, 46, tzinfo=UTC)


def deployment(ns: str, name: str, *, replicas: int = 3, revision: int = 2,
               memory: str = "512Mi", cpu: str = "500m", labels: dict[str, str] | None = None,
               ) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"namespace": ns, "name": name, "labels": labels or {"app": name},
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [
                {"name": name, "image": f"{name}:{revision}",
                 "resources": {"limits": {"memory": memory, "cpu": cpu}},
                 "readinessProbe": {"httpGet": {"path": "/ready"}}}]}}},
            "status": {"replicas": replicas}}


def replicaset(ns: str, name: str, hash_: str, revision: int, image: str) -> dict[str, Any]:
    return {"kind": "ReplicaSet",
            "metadata": {"namespace": ns, "name": f"{name}-{hash_}",
                         "ownerReferences": [{"kind": "Deployment", "name": name}],
                         "annotations": {"deployment.kubernetes.io/revision": str(revision)}},
            "spec": {"template": {"spec": {"containers": [{"name": name, "image": image}]}}}}


def pod(ns: str, name: str, rs: str, *, oom: bool = False, node: str = "w1") -> dict[str, Any]:
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}} if oom else {}
    return {"kind": "Pod",
            "metadata": {"namespace": ns, "name": f"{rs}-{name}",
                         "ownerReferences": [{"kind": "ReplicaSet", "name": rs}]},
            "spec": {"nodeName": node},
            "status": {"containerStatuses": [{"name": rs.rsplit("-", 1)[0], "restartCount": 4,
                                              "lastState": last}]}}


def node(name: str, ready: str = "True") -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": ready}],
                       "allocatable": {"memory": "16Gi"}}}


def cluster() -> list[dict[str, Any]]:
    return [
        node("w1"), node("w2", "Unknown"),
        deployment("shop", "checkout", labels={"app": "checkout", "team": "payments-team"}),
        replicaset("shop", "checkout", "6d4cf56db6", 1, "checkout:1"),
        replicaset("shop", "checkout", "7f9dd8b6c4", 2, "checkout:2"),
        pod("shop", "x7gr9", "checkout-7f9dd8b6c4", oom=True),
        pod("shop", "k2m4p", "checkout-7f9dd8b6c4"),
        deployment("shop", "cart", replicas=2),
        {"kind": "HorizontalPodAutoscaler", "metadata": {"namespace": "shop", "name": "cart"},
         "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "cart"}, "minReplicas": 2,
                  "maxReplicas": 4}, "status": {"currentReplicas": 4}},
        deployment("web", "frontend", replicas=4),
        {"kind": "StatefulSet", "metadata": {"namespace": "db", "name": "orders-db"},
         "spec": {"replicas": 1}},
    ]


def rate(ns: str, svc: str, value: float) -> Series:
    return Series(metric={"__name__": "service:requests:rate1m", "namespace": ns,
                          "service": svc}, values=[(NOW.timestamp(), str(value))])


@pytest.fixture
def make_ctx() -> Callable[..., DebateContext]:
    def make(**kwargs: Any) -> DebateContext:
        evidence = EvidenceSnapshot(
            now=NOW, objects=cluster(),
            series=[rate("shop", "checkout", 20), rate("shop", "cart", 30),
                    rate("web", "frontend", 50)],
            topology=[("frontend", "checkout"), ("frontend", "cart"), ("checkout", "orders-db")],
            sensors=[SensorRun(sensor="kubernetes", status="ok"),
                     SensorRun(sensor="metrics", status="ok")])
        base: dict[str, Any] = {"session_id": "s-1", "incident_id": "i-1", "evidence": evidence}
        base.update(kwargs)
        return DebateContext(**base)

    return make


@pytest.fixture
def diag() -> Callable[..., DiagnosisReport]:
    return diagnosis


def diagnosis(*hyps: tuple[str, str, str, float], abstain: bool = False) -> DiagnosisReport:
    return DiagnosisReport(abstain=abstain, hypotheses=[
        Hypothesis(namespace=ns, service=svc, fault=fault, confidence=conf,  # type: ignore[arg-type]
                   evidence=[f"{fault} seen on {svc}"]) for ns, svc, fault, conf in hyps])
