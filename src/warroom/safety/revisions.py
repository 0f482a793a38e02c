"""Which revisions of a Deployment were rolled back from, read off its ReplicaSets.

Kubernetes rolls a Deployment back by re-adopting the older ReplicaSet and giving it the next
revision number. The revision it rolled back from keeps its number, and its ReplicaSet stays,
scaled to zero. So a second `rollout undo` (or `--to-revision` of "the one before the current")
after a rollback brings back exactly what the rollback removed. Two marks tell such a rollback:
the re-adopted ReplicaSet lists its earlier numbers in `deployment.kubernetes.io/revision-history`,
and it was created before the ReplicaSets numbered below it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from warroom.domain.call_state import find, owned_replicasets, revision
from warroom.domain.targets import REVISION_HISTORY, Target


def _created(rs: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str((rs.get("metadata") or {}).get("creationTimestamp")))
    except ValueError:
        return None


def _history(rs: dict[str, Any]) -> set[int]:
    raw = str(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION_HISTORY) or "")
    return {int(h) for h in raw.split(",") if h.strip().isdigit()}


def rolled_back_from(objects: list[dict[str, Any]], namespace: str,
                     deployment: str) -> set[int]:
    """Return the revisions of a Deployment that a rollback has already undone."""
    state = {"objects": objects}
    owned = [rs for rs in owned_replicasets(state, Target(namespace, "deployment", deployment))
             if revision(rs) > 0]
    undone: set[int] = set()
    for adopted in owned:
        history, created = _history(adopted), _created(adopted)
        for other in owned:
            if revision(other) >= revision(adopted) or revision(other) in history:
                continue
            after_history = bool(history) and revision(other) > min(history)
            other_created = _created(other)
            created_later = (created is not None and other_created is not None
                             and created < other_created)
            if after_history or created_later:
                undone.add(revision(other))
    return undone


def undo_target(objects: list[dict[str, Any]], namespace: str, deployment: str,
                to_revision: int | None) -> int | None:
    """Return the revision a `rollout undo` would go to (None when the evidence cannot say)."""
    if to_revision is not None:
        return to_revision
    state = {"objects": objects}
    owned = [revision(rs) for rs in owned_replicasets(
        state, Target(namespace, "deployment", deployment)) if revision(rs) > 0]
    found = find(state, "deployment", deployment, namespace)
    # without the Deployment's own mark, the newest ReplicaSet is the one running
    current = (revision(found) if found else 0) or (owned[-1] if owned else 0)
    below = [r for r in owned if r < current]
    return below[-1] if below else None
