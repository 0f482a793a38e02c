"""Which revisions of a Deployment were rolled back from, read off its ReplicaSets.

Kubernetes rolls a Deployment back by re-adopting the older ReplicaSet and giving it the next
revision number. The revision it rolled back from keeps its number, and its ReplicaSet stays,
scaled to zero. So a second `rollout undo` (or `--to-revision` of "the one before the current")
after a rollback brings back exactly what the rollback removed. Two marks tell such a rollback:
the re-adopted ReplicaSet lists its earlier numbers in `deployment.kubernetes.io/revision-history`,
and it was created before the ReplicaSets numbered below it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warroom.domain.targets import REVISION, REVISION_HISTORY


@dataclass(frozen=True, slots=True)
class _Owned:
    revision: int
    created: datetime | None
    history: frozenset[int]


def _number(raw: object) -> int | None:
    try:
        return int(str(raw))
    except ValueError:
        return None


def _time(raw: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError:
        return None


def _owned(objects: list[dict[str, Any]], namespace: str, deployment: str) -> list[_Owned]:
    out = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") != "ReplicaSet" or meta.get("namespace", "") != namespace:
            continue
        owners = [o.get("name") for o in meta.get("ownerReferences") or []]
        if deployment not in owners:
            continue
        annotations = meta.get("annotations") or {}
        revision = _number(annotations.get(REVISION))
        if revision is None:
            continue
        history = {_number(h) for h in str(annotations.get(REVISION_HISTORY) or "").split(",") if h}
        out.append(_Owned(revision, _time(meta.get("creationTimestamp") or ""),
                          frozenset(h for h in history if h is not None)))
    return out


def rolled_back_from(objects: list[dict[str, Any]], namespace: str,
                     deployment: str) -> set[int]:
    """Return the revisions of a Deployment that a rollback has already undone."""
    owned = _owned(objects, namespace, deployment)
    undone: set[int] = set()
    for adopted in owned:
        for other in owned:
            if other.revision >= adopted.revision or other.revision in adopted.history:
                continue
            after_history = bool(adopted.history) and other.revision > min(adopted.history)
            created_later = (adopted.created is not None and other.created is not None
                             and adopted.created < other.created)
            if after_history or created_later:
                undone.add(other.revision)
    return undone


def undo_target(objects: list[dict[str, Any]], namespace: str, deployment: str,
                to_revision: int | None) -> int | None:
    """Return the revision a `rollout undo` would go to (None when the evidence cannot say)."""
    if to_revision is not None:
        return to_revision
    owned = sorted(o.revision for o in _owned(objects, namespace, deployment))
    current = None
    for obj in objects:
        meta = obj.get("metadata") or {}
        if (obj.get("kind"), meta.get("namespace", ""), meta.get("name")) == (
                "Deployment", namespace, deployment):
            current = _number((meta.get("annotations") or {}).get(REVISION))
    if current is None and owned:
        current = owned[-1]  # without the Deployment's own mark, the newest one runs
    below = [r for r in owned if current is not None and r < current]
    return below[-1] if below else None
