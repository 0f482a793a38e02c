"""Faults: every class of the v1 taxonomy, injected the way it happens in a real cluster.

Some faults are changes rolled out through the API (a bad image, a broken config, a wrong
probe, an impossible node selector): they make a new ReplicaSet revision, and rolling back
removes them. Others live in the code or the environment (a leak, an expensive code path, a
saturated database, an expired certificate, a dead node): no rollout removes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from warroom.domain.models import FAULTS
from warroom.sandbox.kubelet import Behaviour
from warroom.sandbox.model import Obj, mem_bytes
from warroom.sandbox.shop import BY_NAME, NODES, PAYMENT_PROVIDER, SERVICES, image

# the fault's default target: (namespace, service) ("" namespace: a node or external host)
DEFAULT_TARGETS: dict[str, tuple[str, str]] = {
    "memory_leak": ("shop", "checkout"), "memory_limit_too_low": ("shop", "checkout"),
    "cpu_saturation": ("shop", "search"), "traffic_surge": ("shop", "catalog"),
    "bad_deploy": ("shop", "checkout"), "application_error": ("shop", "cart"),
    "config_error": ("shop", "payments"), "image_pull_error": ("shop", "orders"),
    "probe_failure": ("shop", "cart"), "external_dependency": ("", PAYMENT_PROVIDER),
    "network_latency": ("shop", "orders"), "dns_failure": ("kube-system", "coredns"),
    "database_saturation": ("data", "orders-db"), "disk_pressure": ("data", "orders-db"),
    "node_failure": ("", "worker-2"), "unschedulable": ("shop", "search"),
    "certificate_expired": ("shop", "gateway"), "none": ("shop", "frontend"),
}
_ROLLED_OUT = {"bad_deploy", "config_error", "image_pull_error", "probe_failure", "unschedulable"}


class FaultError(ValueError):
    """A fault that cannot be injected (unknown class, unknown or unsuitable target)."""


@dataclass
class Fault:
    """One injected fault and how hard it bites."""

    id: str
    kind: str
    namespace: str
    service: str
    severity: float  # 0..1
    onset_s: float  # seconds to ramp to full strength
    started: datetime
    params: dict[str, Any] = field(default_factory=dict)

    def strength(self, now: datetime) -> float:
        """Return the fault's current strength (severity, ramped over the onset)."""
        if self.onset_s <= 0:
            return self.severity
        ramp = min(1.0, (now - self.started).total_seconds() / self.onset_s)
        return self.severity * ramp

    def target(self) -> str:
        """Return the fault's target in `namespace/kind/name` form (empty kind for hosts)."""
        if self.kind == "node_failure":
            return f"/node/{self.service}"
        if self.namespace == "":
            return f"/external/{self.service}"
        spec = BY_NAME.get(self.service)
        kind = spec.kind.lower() if spec else "deployment"
        return f"{self.namespace}/{kind}/{self.service}"

    def as_dict(self) -> dict[str, Any]:
        """Return the fault as the faults API shows it."""
        return {"id": self.id, "fault": self.kind, "namespace": self.namespace,
                "service": self.service, "target": self.target(), "severity": self.severity,
                "onset_seconds": self.onset_s, "started": self.started.isoformat(),
                "params": self.params}


def resolve_target(kind: str, service: str | None, namespace: str | None) -> tuple[str, str]:
    """Return (namespace, service) for a fault, checking the target suits its class."""
    if kind not in FAULTS:
        raise FaultError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
    default_ns, default_service = DEFAULT_TARGETS[kind]
    name = service or default_service
    if kind == "node_failure":
        if name not in NODES:
            raise FaultError(f"node_failure needs a node ({', '.join(NODES)}), got {name!r}")
        return "", name
    if kind == "external_dependency":
        if name != PAYMENT_PROVIDER:
            raise FaultError(f"external_dependency targets {PAYMENT_PROVIDER}, got {name!r}")
        return "", name
    spec = BY_NAME.get(name)
    if spec is None:
        known = ", ".join(s.name for s in SERVICES)
        raise FaultError(f"unknown service {name!r} for {kind}; known: {known}")
    if namespace and namespace != spec.namespace:
        raise FaultError(f"service {name!r} lives in namespace {spec.namespace!r}, "
                         f"not {namespace!r}")
    if kind in _ROLLED_OUT and spec.kind != "Deployment":
        raise FaultError(f"{kind} rolls out a new Deployment revision; {name} is a {spec.kind}")
    if kind in ("database_saturation", "disk_pressure") and spec.role != "db":
        raise FaultError(f"{kind} targets a database (orders-db), got {name!r}")
    if kind == "dns_failure" and spec.role != "dns":
        raise FaultError(f"dns_failure targets coredns, got {name!r}")
    return spec.namespace, name


@dataclass
class Registry:
    """What the cluster knows about images and configurations: which exist, which are broken."""

    images: set[str] = field(default_factory=lambda: {image(s) for s in SERVICES})
    throwing_images: dict[str, float] = field(default_factory=dict)  # image -> error ratio
    bad_env: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (name, value)
    healthy_probe_paths: frozenset[str] = frozenset({"/healthz", "/ready"})


def rollout_patch(fault: Fault, registry: Registry, workload: Obj) -> dict[str, Any]:
    """Register what the fault breaks and return the strategic merge patch that rolls it out."""
    container = workload["spec"]["template"]["spec"]["containers"][0]
    name = container["name"]
    version = container["image"].rsplit(":", 1)[-1]
    major, minor, *_ = (version.split(".") + ["0", "0"])[:3]
    bumped = f"{major}.{int(minor) + 1 if minor.isdigit() else 1}.0"
    base = container["image"].rsplit(":", 1)[0]
    patch_container: dict[str, Any] = {"name": name}
    if fault.kind == "bad_deploy":
        new_image = f"{base}:{bumped}"
        registry.images.add(new_image)
        registry.throwing_images[new_image] = 0.25 + 0.6 * fault.severity
        patch_container["image"] = new_image
    elif fault.kind == "image_pull_error":
        patch_container["image"] = f"{base}:{bumped}-rc1"  # never pushed
    elif fault.kind == "config_error":
        key, value = "PAYMENT_GATEWAY_MODE", "strict-v2"
        registry.bad_env[(key, value)] = [
            "{ts} INFO loading configuration from environment",
            f"{{ts}} ERROR invalid configuration: {key}={value!r} is not one of "
            "['legacy', 'v1', 'v2']",
            "{ts} FATAL config validation failed, exiting with status 1",
        ]
        patch_container["env"] = [{"name": key, "value": value}]
    elif fault.kind == "probe_failure":
        patch_container["livenessProbe"] = {"httpGet": {"path": "/health/live",
                                                        "port": container["ports"][0][
                                                            "containerPort"]},
                                            "initialDelaySeconds": 5, "periodSeconds": 5,
                                            "failureThreshold": 2}
        patch_container["readinessProbe"] = {"httpGet": {"path": "/health/ready", "port":
                                                         container["ports"][0]["containerPort"]},
                                             "periodSeconds": 5, "failureThreshold": 3}
    elif fault.kind == "unschedulable":
        return {"spec": {"template": {"spec": {"nodeSelector": {
            "node.kubernetes.io/instance-type": "r6i.8xlarge"}}}}}
    return {"spec": {"template": {"spec": {"containers": [patch_container]}}}}


def behaviour(pod: Obj, faults: list[Fault], registry: Registry, now: datetime) -> Behaviour:
    """Return what a pod's container does, from its template and the faults in force."""
    container = pod["spec"]["containers"][0]
    app = pod["metadata"].get("labels", {}).get("app", "")
    spec = BY_NAME.get(app)
    out = Behaviour(working_set_mi=float(spec.working_set_mi if spec else 100))
    if container["image"] not in registry.images:
        out.pullable = False
        out.pull_error = (f'rpc error: code = NotFound desc = failed to pull and unpack image '
                          f'"{container["image"]}": failed to resolve reference '
                          f'"{container["image"]}": {container["image"]}: not found')
    for env in container.get("env", []):
        lines = registry.bad_env.get((env.get("name", ""), env.get("value", "")))
        if lines:
            out.crash_after_s = 3.0
            out.crash_lines = lines
    probe_path = (container.get("livenessProbe") or {}).get("httpGet", {}).get("path")
    if probe_path and probe_path not in registry.healthy_probe_paths:
        out.liveness_ok = False
        out.liveness_message = "HTTP probe failed with statuscode: 404"
    for fault in faults:
        if fault.service != app or fault.namespace != pod["metadata"]["namespace"]:
            continue
        if fault.kind == "memory_leak":
            # reaches the original limit in about 10 minutes at full severity
            out.leak_mi_per_s = max(0.0, fault.params["limit_mi"] - out.working_set_mi) / (
                600.0 / max(fault.strength(now), 0.05))
        elif fault.kind == "memory_limit_too_low":
            out.working_set_mi = max(out.working_set_mi, fault.params["need_mi"])
    return out


def throwing_ratio(pod: Obj, registry: Registry) -> float:
    """Return the share of requests a pod's image fails (a bad build throws)."""
    return registry.throwing_images.get(pod["spec"]["containers"][0]["image"], 0.0)


def fault_params(kind: str, workload: Obj | None) -> dict[str, Any]:
    """Return the parameters a fault fixes at injection (the limits it was sized against)."""
    if workload is None or kind not in ("memory_leak", "memory_limit_too_low"):
        return {}
    limits = workload["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    limit_mi = mem_bytes(limits["memory"]) / 2**20
    if kind == "memory_leak":
        return {"limit_mi": limit_mi}
    return {"need_mi": round(limit_mi * 1.2)}  # a new batch job needs 20 % more than the limit
