"""Kubernetes API objects as the analyzers read them.

Objects arrive as plain API dicts from any source (the API, kubectl output, documents, a
converter); `repair` gives every field the analyzers read the shape they expect, so a
malformed object reads as empty rather than failing the diagnosis, and the helpers read
integers, times and metadata that may be missing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from warroom.store.times import utc

_DICT_KEYS = frozenset({
    "metadata", "spec", "status", "involvedObject", "state", "lastState", "waiting", "terminated",
    "running", "resources", "limits", "requests", "annotations", "labels", "template",
    "scaleTargetRef", "source", "selector", "matchLabels", "persistentVolumeClaim", "hard",
    "used", "httpGet", "issuerRef", "capacity", "allocatable", "current", "resource", "target"})
_LIST_KEYS = frozenset({
    "containerStatuses", "initContainerStatuses", "conditions", "ownerReferences", "containers",
    "taints", "volumes", "dnsNames", "currentMetrics", "metrics", "subsets", "addresses"})
_STR_LIST_KEYS = frozenset({"dnsNames"})
_STR_KEYS = frozenset({
    "name", "namespace", "kind", "reason", "message", "nodeName", "type", "image", "phase",
    "creationTimestamp", "lastTimestamp", "firstTimestamp", "eventTime", "finishedAt",
    "startedAt", "lastTransitionTime", "notAfter", "apiVersion", "claimName", "path"})
_INT_KEYS = frozenset({"currentReplicas", "desiredReplicas", "maxReplicas", "minReplicas",
                       "replicas", "count", "restartCount"})
_TOP_DICTS = frozenset({"metadata", "spec", "status"})
# maps of strings to strings whatever their keys are (a label called `count` is no integer)
_STRING_MAPS = frozenset({"annotations", "labels", "matchLabels", "data"})


def repair(obj: dict[str, Any]) -> dict[str, Any]:
    """Give a raw API object the shapes the analyzers read (wrong types become empty)."""
    out = {str(k): _fix(v, str(k)) for k, v in obj.items()}
    for key in _TOP_DICTS:
        if key in obj and not isinstance(obj[key], dict):
            out[key] = {}
    return out


def _fix(value: Any, key: str) -> Any:
    if key in _DICT_KEYS and key != "status" and not isinstance(value, dict):
        return {}
    if key in _LIST_KEYS:
        if not isinstance(value, list):
            return []
        item = str if key in _STR_LIST_KEYS else dict  # a list holds one shape of item
        return [_fix(v, "") for v in value if isinstance(v, item)]
    if key in _STR_KEYS and not isinstance(value, str):
        return _as_str(value)
    if key in _INT_KEYS and value is not None and not isinstance(value, int):
        return as_int(value)
    if key == "status" and not isinstance(value, dict | str):
        return ""
    if key in _STRING_MAPS and isinstance(value, dict):
        return {str(k): v if isinstance(v, str) else _as_str(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): _fix(v, str(k)) for k, v in value.items()}
    return value


def _as_str(value: Any) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)


def as_int(value: Any, default: int = 0) -> int:
    """Read an integer field that may be missing or malformed."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp from Kubernetes, or None when absent/invalid."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return utc(t)


def meta(obj: dict[str, Any]) -> dict[str, Any]:
    """Return an object's metadata (empty when missing)."""
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}
