"""Read facts about workloads out of raw Kubernetes objects (as the API server returns them)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.domain.quantities import BYTES, QUANTITY
from warroom.domain.targets import REVISION
from warroom.sensors.models import Change

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
# what a controller appends to a workload's name: ReplicaSet hash + pod id, ordinal, pod id
_POD_SUFFIX = re.compile(r"[a-z0-9]{6,10}-[a-z0-9]{5}|\d+|[a-z0-9]{5}")
_DEPLOYMENT_POD = re.compile(r"(?P<hash>[a-z0-9]{6,10})-[a-z0-9]{5}")


@dataclass
class Revision:
    revision: int  # 0 when the ReplicaSet carries no revision annotation
    template: dict[str, Any] = field(default_factory=dict)
    image: str = ""
    created: str = ""
    name: str = ""
    ready: int = 0
    desired: int = 0  # the replicas its Deployment asks of it now (0 once replaced)


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """Return an object's metadata (empty when absent)."""
    return obj.get("metadata") or {}


def find(objects: list[dict[str, Any]], kind: str, namespace: str,
         name: str) -> dict[str, Any] | None:
    """Return the object of that kind and name (nodes ignore the namespace)."""
    for obj in objects:
        m = meta(obj)
        if obj.get("kind") == kind and m.get("name") == name and (
                kind == "Node" or m.get("namespace", "") == namespace):
            return obj
    return None


def workload(objects: list[dict[str, Any]], namespace: str, name: str) -> dict[str, Any] | None:
    """Return the Deployment, StatefulSet or DaemonSet called `name` in `namespace`."""
    for kind in WORKLOAD_KINDS:
        obj = find(objects, kind, namespace, name)
        if obj is not None:
            return obj
    return None


def deployment_from_pods(objects: list[dict[str, Any]], namespace: str,
                         name: str) -> dict[str, Any] | None:
    """Stand in for a Deployment the evidence does not hold, from the pods it made.

    A Deployment names its ReplicaSet `<name>-<pod-template-hash>` and that ReplicaSet names its
    pods `<name>-<pod-template-hash>-<id>`: such a pod, owned by a ReplicaSet or by nothing the
    evidence shows, carries the Deployment's pod template as its spec (the newest pod's is
    taken). How many replicas the Deployment asks for is not known from its pods.
    """
    pods = []
    for pod in pods_of(objects, namespace, name):
        m = meta(pod)
        found = _DEPLOYMENT_POD.fullmatch(str(m.get("name", ""))[len(name) + 1:])
        owners = m.get("ownerReferences") or []
        if found and all(o.get("kind") == "ReplicaSet" and o.get("name") == (
                f"{name}-{found.group('hash')}") for o in owners):
            pods.append(pod)
    if not pods:
        return None
    newest = max(pods, key=lambda p: str(meta(p).get("creationTimestamp", "")))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"spec": newest.get("spec") or {}}}}


def namespace_of(objects: list[dict[str, Any]], name: str) -> str:
    """Return the namespace of the first workload called `name` (empty when unknown)."""
    for obj in objects:
        if obj.get("kind") in WORKLOAD_KINDS and meta(obj).get("name") == name:
            return str(meta(obj).get("namespace", ""))
    return ""


def replicas(obj: dict[str, Any]) -> int:
    """Return the desired replica count of a workload."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    value = spec.get("replicas", status.get("replicas", status.get("desiredNumberScheduled", 1)))
    return value if isinstance(value, int) else 1


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the pod template's containers of a workload (or a pod's own)."""
    spec = obj.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or spec
    return list(template.get("containers") or [])


def main_container(obj: dict[str, Any]) -> str | None:
    """Return the container named like the workload, else the first one."""
    names = [c.get("name") for c in containers(obj) if c.get("name")]
    name = meta(obj).get("name")
    return name if name in names else (names[0] if names else None)


def limit(obj: dict[str, Any], container: str, resource: str) -> str | None:
    """Return the container's current limit for a resource, as written in the manifest."""
    for c in containers(obj):
        if c.get("name") == container:
            value = ((c.get("resources") or {}).get("limits") or {}).get(resource)
            return str(value) if value is not None else None
    return None


def has_probe(obj: dict[str, Any], container: str, probe: str) -> bool:
    """Tell whether the container declares the probe."""
    return any(c.get("name") == container and c.get(probe) for c in containers(obj))


def scale_quantity(quantity: str | None, factor: float, resource: str) -> str | None:
    """Multiply a Kubernetes quantity and round it up: memory to 64Mi, cpu to 100m."""
    if not quantity:
        return None
    match = QUANTITY.match(quantity.strip())
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if resource == "cpu":
        millis = number if unit == "m" else number * 1000
        new = math.ceil(millis * factor / 100) * 100
        return f"{new // 1000}" if new % 1000 == 0 else f"{new}m"
    if unit == "m":
        return None
    mib = number * BYTES[unit] / 1024**2
    new_mib = math.ceil(mib * factor / 64) * 64
    return f"{new_mib // 1024}Gi" if new_mib % 1024 == 0 else f"{new_mib}Mi"


def pods_of(objects: list[dict[str, Any]], namespace: str, name: str) -> list[dict[str, Any]]:
    """Return the pods of a workload (by owner chain or by the name prefix it gives them)."""
    out = []
    for obj in objects:
        m = meta(obj)
        if obj.get("kind") != "Pod" or m.get("namespace", "") != namespace:
            continue
        owners = [o.get("name", "") for o in m.get("ownerReferences") or []]
        pod = str(m.get("name", ""))
        if owners:
            mine = any(o == name or (o.startswith(name + "-") and _POD_SUFFIX.fullmatch(
                o[len(name) + 1:] + "-xxxxx")) for o in owners)
        else:
            mine = pod.startswith(name + "-") and bool(_POD_SUFFIX.fullmatch(pod[len(name) + 1:]))
        if mine:
            out.append(obj)
    return out


def oom_container(objects: list[dict[str, Any]], namespace: str, name: str) -> str | None:
    """Return the container of the workload that was OOMKilled most often."""
    counts: dict[str, int] = {}
    for pod in pods_of(objects, namespace, name):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            reasons = [((status.get(k) or {}).get("terminated") or {}).get("reason")
                       for k in ("state", "lastState")]
            if "OOMKilled" in reasons:
                counts[status.get("name", "")] = counts.get(status.get("name", ""), 0) + max(
                    1, int(status.get("restartCount") or 0))
    counts.pop("", None)
    return max(counts, key=lambda k: counts[k]) if counts else None


def hpa_for(objects: list[dict[str, Any]], namespace: str, name: str) -> dict[str, Any] | None:
    """Return the HorizontalPodAutoscaler whose scale target is the workload."""
    for obj in objects:
        if obj.get("kind") != "HorizontalPodAutoscaler" or meta(obj).get(
                "namespace", "") != namespace:
            continue
        ref = (obj.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("name") == name or (not ref and meta(obj).get("name") == name):
            return obj
    return None


def revision_of(obj: dict[str, Any]) -> int | None:
    """Return the revision annotation of a Deployment or ReplicaSet."""
    raw = (meta(obj).get("annotations") or {}).get(REVISION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def revisions(objects: list[dict[str, Any]], deployment: dict[str, Any]) -> list[Revision]:
    """Return the ReplicaSet revisions a Deployment owns."""
    ns, name = meta(deployment).get("namespace", ""), meta(deployment).get("name", "")
    out = []
    for obj in objects:
        m = meta(obj)
        if obj.get("kind") != "ReplicaSet" or m.get("namespace", "") != ns:
            continue
        owners = [o.get("name") for o in m.get("ownerReferences") or []]
        if name not in owners and not (not owners and str(m.get("name", "")).startswith(
                name + "-")):
            continue
        rev = revision_of(obj)
        if rev is None:
            rev = 0  # unknown: ordered by creation below, never named as a target revision
        template = (obj.get("spec") or {}).get("template") or {}
        images = [c.get("image", "") for c in containers(obj)]
        out.append(Revision(revision=rev, template=template, image=", ".join(images),
                            created=str(m.get("creationTimestamp", "")), name=str(m.get("name")),
                            ready=int((obj.get("status") or {}).get("readyReplicas") or 0),
                            desired=int((obj.get("spec") or {}).get("replicas") or 0)))
    return out


_SIZE = r"(\d+(?:\.\d+)?)\s?(Ki|Mi|Gi|KiB|MiB|GiB|kB|KB|MB|GB)"
_USED_OF = re.compile(_SIZE + r"\s*/\s*" + _SIZE)
_LIMIT_IS = re.compile(r"(?i)(?:memory[ _-]?)?limit(?:s)?(?:[ _-]?memory)?\s*[:=]?\s*" + _SIZE)
_UNITS = {"Ki": "Ki", "KiB": "Ki", "kB": "k", "KB": "k", "Mi": "Mi", "MiB": "Mi", "MB": "M",
          "Gi": "Gi", "GiB": "Gi", "GB": "G"}


def memory_limit_from_text(lines: list[str]) -> str | None:
    """Find the memory limit a log or event states ("496Mi / 512Mi", "memory limit: 1Gi")."""
    for line in reversed(lines):
        for pattern, group in ((_USED_OF, 3), (_LIMIT_IS, 1)):
            match = pattern.search(line)
            if match:
                number, unit = match.group(group), match.group(group + 1)
                return f"{number}{_UNITS[unit]}"
    return None


def template_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Name what changed between two pod templates (container fields, volumes)."""
    changed: list[str] = []
    old_c = {c.get("name"): c for c in (old.get("spec") or {}).get("containers") or []}
    new_c = {c.get("name"): c for c in (new.get("spec") or {}).get("containers") or []}
    for cname, c in new_c.items():
        before = old_c.get(cname, {})
        for key in sorted(set(c) | set(before)):
            if c.get(key) != before.get(key):
                changed.append(f"{key.lower()}")
    if (old.get("spec") or {}).get("volumes") != (new.get("spec") or {}).get("volumes"):
        changed.append("volumes")
    return changed


def recent_change(changes: list[Change], namespace: str, name: str, now: datetime,
                  within: timedelta = timedelta(hours=6)) -> Change | None:
    """Return the newest deploy or config change to the workload within the window."""
    hits = [c for c in changes if c.kind in ("deploy", "config")
            and c.target.split("/")[0] == namespace and c.target.split("/")[-1] == name
            and now - within <= c.time <= now]
    return max(hits, key=lambda c: c.time) if hits else None


def team_of(obj: dict[str, Any] | None) -> str | None:
    """Return the owning team a workload declares in a `team` label or annotation."""
    if obj is None:
        return None
    m = meta(obj)
    for source in (m.get("labels") or {}, m.get("annotations") or {}):
        for key in ("team", "app.kubernetes.io/team", "owner"):
            if source.get(key):
                return str(source[key])
    return None
