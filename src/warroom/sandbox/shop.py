"""The simulated online shop: its services, dependency graph, nodes and manifests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from warroom.sandbox.model import Obj, ObjectStore

REGISTRY = "registry.shop.example"
PAYMENT_PROVIDER = "api.paymentprovider.example"
NAMESPACES = ("shop", "data", "kube-system")
NODES = ("worker-1", "worker-2", "worker-3")
NODE_CPU, NODE_MEMORY = "8", "32Gi"


@dataclass(frozen=True)
class ServiceSpec:
    """One workload of the shop and how it behaves under load."""

    name: str
    namespace: str = "shop"
    kind: str = "Deployment"  # or StatefulSet
    replicas: int = 2
    version: str = "1.42.0"
    cpu_request: str = "250m"
    cpu_limit: str = "500m"
    mem_request: str = "256Mi"
    mem_limit: str = "512Mi"
    working_set_mi: int = 260  # steady memory use of one pod
    capacity_rps: float = 60.0  # what one pod serves at its CPU limit before it saturates
    latency_s: float = 0.020  # own p50 processing time
    entry_rps: float = 0.0  # traffic that arrives from outside the graph
    hpa: tuple[int, int, int] | None = None  # min, max, target CPU %
    role: str = "api"  # gateway | web | api | cache | queue | db | dns | worker
    port: int = 8080


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("gateway", replicas=3, entry_rps=120.0, capacity_rps=200, latency_s=0.004,
                role="gateway", hpa=(3, 6, 80)),
    ServiceSpec("frontend", replicas=3, capacity_rps=150, latency_s=0.030, role="web",
                hpa=(3, 6, 80)),
    ServiceSpec("catalog", replicas=2, capacity_rps=120, latency_s=0.015, hpa=(2, 4, 80),
                cpu_request="400m"),
    ServiceSpec("search", replicas=2, capacity_rps=40, latency_s=0.040),
    ServiceSpec("cart", replicas=2, capacity_rps=60, latency_s=0.010),
    ServiceSpec("checkout", replicas=2, capacity_rps=30, latency_s=0.030, working_set_mi=300),
    ServiceSpec("payments", replicas=2, capacity_rps=30, latency_s=0.020),
    ServiceSpec("orders", replicas=2, capacity_rps=40, latency_s=0.015),
    ServiceSpec("notifications", replicas=1, capacity_rps=30, latency_s=0.010, entry_rps=4.0,
                role="worker"),
    ServiceSpec("cache", namespace="data", replicas=1, capacity_rps=2000, latency_s=0.001,
                role="cache", cpu_limit="1", mem_limit="1Gi", working_set_mi=600,
                version="7.2.4", port=6379),
    ServiceSpec("queue", namespace="data", replicas=1, capacity_rps=1000, latency_s=0.002,
                role="queue", version="3.13.1", port=5672),
    ServiceSpec("orders-db", namespace="data", kind="StatefulSet", replicas=1,
                capacity_rps=400, latency_s=0.004, role="db", cpu_request="1", cpu_limit="2",
                mem_request="2Gi", mem_limit="4Gi", working_set_mi=2400, version="16.4",
                port=5432),
    ServiceSpec("coredns", namespace="kube-system", replicas=2, capacity_rps=5000,
                latency_s=0.001, role="dns", cpu_request="100m", cpu_limit="200m",
                mem_request="70Mi", mem_limit="170Mi", working_set_mi=40, version="1.11.3",
                port=53),
)
BY_NAME = {s.name: s for s in SERVICES}

# caller -> callee: calls per request, and how much of the callee's failure reaches the caller
EDGES: tuple[tuple[str, str, float, float], ...] = (
    ("gateway", "frontend", 1.0, 1.0),
    ("frontend", "catalog", 0.8, 0.9),
    ("frontend", "search", 0.3, 0.5),
    ("frontend", "cart", 0.4, 0.8),
    ("frontend", "checkout", 0.1, 1.0),
    ("search", "catalog", 0.5, 0.8),
    ("catalog", "cache", 1.0, 0.2),
    ("catalog", "orders-db", 0.2, 0.9),
    ("cart", "cache", 1.0, 0.9),
    ("checkout", "cart", 1.0, 0.9),
    ("checkout", "payments", 1.0, 1.0),
    ("checkout", "orders", 1.0, 1.0),
    ("payments", PAYMENT_PROVIDER, 1.0, 1.0),
    ("orders", "orders-db", 2.0, 1.0),
    ("orders", "queue", 1.0, 0.5),
    ("notifications", "queue", 1.0, 1.0),
)


def callers_of(service: str) -> list[str]:
    """Return the services that call this one."""
    return [caller for caller, callee, _, _ in EDGES if callee == service]


def topology_edges() -> list[tuple[str, str]]:
    """Return the caller -> callee pairs, as tracing would report them."""
    return [(caller, callee) for caller, callee, _, _ in EDGES]


def image(spec: ServiceSpec, version: str | None = None) -> str:
    """Return the image reference of a service at a version."""
    return f"{REGISTRY}/{spec.name}:{version or spec.version}"


def pod_template(spec: ServiceSpec) -> Obj:
    """Return the pod template of a service, as its manifest declares it."""
    return {
        "metadata": {"labels": {"app": spec.name}},
        "spec": {
            "containers": [{
                "name": spec.name,
                "image": image(spec),
                "ports": [{"containerPort": spec.port, "protocol": "TCP"}],
                "env": [{"name": "LOG_LEVEL", "value": "info"}],
                "resources": {
                    "requests": {"cpu": spec.cpu_request, "memory": spec.mem_request},
                    "limits": {"cpu": spec.cpu_limit, "memory": spec.mem_limit},
                },
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": spec.port},
                                  "initialDelaySeconds": 10, "periodSeconds": 10,
                                  "failureThreshold": 3},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": spec.port},
                                   "periodSeconds": 5, "failureThreshold": 3},
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
        },
    }


def _node(name: str) -> Obj:
    return {
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                              "node.kubernetes.io/instance-type": "m6i.2xlarge"}},
        "spec": {},
        "status": {
            "capacity": {"cpu": NODE_CPU, "memory": NODE_MEMORY, "pods": "110"},
            "allocatable": {"cpu": "7800m", "memory": "30Gi", "pods": "110"},
            "conditions": [],
            "nodeInfo": {"kubeletVersion": "v1.30.4", "osImage": "Ubuntu 22.04.4 LTS"},
        },
    }


def _workload(spec: ServiceSpec) -> Obj:
    labels = {"app": spec.name, "app.kubernetes.io/part-of": "shop"}
    body: Obj = {
        "kind": spec.kind,
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels,
                     "annotations": {}},
        "spec": {"replicas": spec.replicas, "selector": {"matchLabels": {"app": spec.name}},
                 "template": pod_template(spec)},
        "status": {},
    }
    if spec.kind == "Deployment":
        body["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {
            "maxSurge": "25%", "maxUnavailable": "25%"}}
        body["spec"]["revisionHistoryLimit"] = 10
    else:
        body["spec"]["serviceName"] = spec.name
        body["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}}}]
    return body


def build(store: ObjectStore, now: datetime) -> None:
    """Create the shop's namespaces, nodes, workloads, services, HPAs and volumes."""
    for namespace in NAMESPACES:
        store.put({"kind": "Namespace", "metadata": {"name": namespace},
                   "status": {"phase": "Active"}}, now)
    for name in NODES:
        store.put(_node(name), now)
    for spec in SERVICES:
        store.put(_workload(spec), now)
        store.put({
            "kind": "Service",
            "metadata": {"name": spec.name, "namespace": spec.namespace},
            "spec": {"selector": {"app": spec.name}, "type": "ClusterIP",
                     "ports": [{"port": spec.port, "targetPort": spec.port, "protocol": "TCP"}]},
            "status": {"loadBalancer": {}},
        }, now)
        if spec.hpa:
            low, high, cpu = spec.hpa
            store.put({
                "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": spec.name, "namespace": spec.namespace},
                "spec": {
                    "scaleTargetRef": {"apiVersion": "apps/v1", "kind": spec.kind,
                                       "name": spec.name},
                    "minReplicas": low, "maxReplicas": high,
                    "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                        "type": "Utilization", "averageUtilization": cpu}}}],
                },
                "status": {"currentReplicas": spec.replicas, "desiredReplicas": spec.replicas},
            }, now)
        if spec.kind == "StatefulSet":
            for index in range(spec.replicas):
                store.put({
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": f"data-{spec.name}-{index}",
                                 "namespace": spec.namespace, "labels": {"app": spec.name}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
                             "resources": {"requests": {"storage": "50Gi"}}},
                    "status": {"phase": "Bound", "capacity": {"storage": "50Gi"}},
                }, now)
