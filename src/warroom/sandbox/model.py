"""The sandbox's object store: Kubernetes objects as the API server keeps them, plus patching.

Objects are plain dicts in the API server's JSON shape, so what the REST layer returns, what a
recording embeds and what the controllers reconcile are one and the same thing.
"""

from __future__ import annotations

import builtins
import copy
import hashlib
import json
import re
from datetime import datetime
from typing import Any

Obj = dict[str, Any]

# kind -> (apiVersion, plural, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("v1", "namespaces", False),
    "Node": ("v1", "nodes", False),
    "Pod": ("v1", "pods", True),
    "Service": ("v1", "services", True),
    "Event": ("v1", "events", True),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims", True),
    "Deployment": ("apps/v1", "deployments", True),
    "ReplicaSet": ("apps/v1", "replicasets", True),
    "StatefulSet": ("apps/v1", "statefulsets", True),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers", True),
}
PLURALS = {plural: kind for kind, (_, plural, _) in KINDS.items()}

_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}


def rfc3339(when: datetime) -> str:
    """Format a time the way the API server does (seconds, Z)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def cpu_cores(quantity: str | int | float) -> float:
    """Parse a CPU quantity ("500m", "2") into cores."""
    text = str(quantity)
    if text.endswith("m"):
        return float(text[:-1]) / 1000
    return float(text)


def mem_bytes(quantity: str | int | float) -> float:
    """Parse a memory quantity ("512Mi", "1Gi", "1e9") into bytes."""
    text = str(quantity)
    match = re.fullmatch(r"([0-9.eE+]+)([KMGT]i?|k)?", text)
    if not match:
        raise ValueError(f"bad memory quantity {quantity!r}")
    return float(match.group(1)) * _UNITS.get(match.group(2) or "", 1)


def mib(value: float) -> str:
    """Format bytes as a Mi quantity."""
    return f"{round(value / 2**20)}Mi"


def template_hash(template: Obj) -> str:
    """Return a stable pod-template-hash for a pod template."""
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int(digest[:16], 16)
    out = ""
    for _ in range(10):
        number, rest = divmod(number, len(alphabet))
        out += alphabet[rest]
    return out


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


_MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name",
               "volumes": "name", "ports": "containerPort", "volumeMounts": "mountPath",
               "conditions": "type", "tolerations": "key"}


def strategic_merge_patch(target: Any, patch: Any, key: str = "") -> Any:
    """Apply a strategic merge patch: like a merge patch, but named lists merge by their key."""
    if isinstance(patch, list) and key in _MERGE_KEYS and isinstance(target, list):
        merge_key = _MERGE_KEYS[key]
        merged = [copy.deepcopy(item) for item in target]
        for item in patch:
            if not isinstance(item, dict) or merge_key not in item:
                raise PatchError(f"list {key!r} items need their merge key {merge_key!r}")
            if item.get("$patch") == "delete":
                merged = [r for r in merged if r.get(merge_key) != item[merge_key]]
                continue
            for index, existing in enumerate(merged):
                if existing.get(merge_key) == item[merge_key]:
                    merged[index] = strategic_merge_patch(existing, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = strategic_merge_patch(result.get(name), value, name)
    return result


def json_patch(target: Obj, ops: list[Any]) -> Obj:
    """Apply an RFC 6902 JSON patch (add, replace, remove, test)."""
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict) or "path" not in op or "op" not in op:
            raise PatchError(f"JSON patch operation {op!r} needs op and path")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        if not parts:
            raise PatchError("JSON patch path must not be the document root")
        parent: Any = doc
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        last = parts[-1]
        kind = op["op"]
        if kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op.get("value"))
                else:
                    parent[index] = op.get("value")
            else:
                if kind == "replace" and last not in parent:
                    raise PatchError(f"JSON patch replace: {op['path']} does not exist")
                parent[last] = op.get("value")
        elif kind == "remove":
            if isinstance(parent, list):
                parent.pop(int(last))
            elif parent.pop(last, None) is None:
                raise PatchError(f"JSON patch remove: {op['path']} does not exist")
        elif kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise PatchError(f"JSON patch test failed at {op['path']}")
        else:
            raise PatchError(f"JSON patch operation {kind!r} is not supported")
    return doc


class PatchError(ValueError):
    """A patch body that cannot be applied (answered 422 by the API)."""


class ObjectStore:
    """Every object of the sandbox cluster, by kind, namespace and name."""

    def __init__(self) -> None:
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {kind: {} for kind in KINDS}
        self._version = 1000
        self._uid = 0

    def next_version(self) -> str:
        """Return a fresh resourceVersion."""
        self._version += 1
        return str(self._version)

    def new_uid(self, name: str) -> str:
        """Return a deterministic UUID-shaped uid."""
        self._uid += 1
        digest = hashlib.md5(f"{name}/{self._uid}".encode()).hexdigest()  # noqa: S324
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def put(self, obj: Obj, now: datetime) -> Obj:
        """Create or replace an object, stamping apiVersion, uid and resourceVersion."""
        kind = obj["kind"]
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"] = KINDS[kind][0]
        key = (meta.get("namespace", ""), meta["name"])
        old = self._objects[kind].get(key)
        if old is None:
            meta.setdefault("uid", self.new_uid(meta["name"]))
            meta.setdefault("creationTimestamp", rfc3339(now))
        else:
            meta["uid"] = old["metadata"]["uid"]
            meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            if old.get("spec") != obj.get("spec") and "generation" in old["metadata"]:
                meta["generation"] = old["metadata"]["generation"] + 1
        if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
            meta.setdefault("generation", 1)
        meta["resourceVersion"] = self.next_version()
        self._objects[kind][key] = obj
        return obj

    def get(self, kind: str, name: str, namespace: str = "") -> Obj | None:
        """Return one object, or None."""
        return self._objects[kind].get((namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[Obj]:
        """Return the objects of a kind, in a namespace or everywhere, by name."""
        items = [o for (ns, _), o in self._objects[kind].items()
                 if namespace is None or ns == namespace]
        return sorted(items, key=lambda o: (o["metadata"].get("namespace", ""),
                                            o["metadata"]["name"]))

    def delete(self, kind: str, name: str, namespace: str = "") -> Obj | None:
        """Remove an object and return it."""
        return self._objects[kind].pop((namespace, name), None)

    def owned_by(self, kind: str, owner: Obj) -> builtins.list[Obj]:
        """Return the objects of a kind whose ownerReferences name the owner."""
        uid = owner["metadata"]["uid"]
        return [o for o in self.list(kind, owner["metadata"].get("namespace", ""))
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences", []))]


def owner_ref(owner: Obj) -> Obj:
    """Return a controller ownerReference to the owner."""
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": True}
