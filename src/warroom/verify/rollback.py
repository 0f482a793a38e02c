"""Rollback proposals: the action that would undo an executed one, for a human to approve."""

from __future__ import annotations

from typing import Any

from warroom.agents.models import Action


def _find(pre_state: dict[str, Any] | None, kind: str, target: str) -> dict[str, Any] | None:
    parts = target.split("/")
    if len(parts) != 3:
        return None
    namespace, _, name = parts
    for obj in (pre_state or {}).get("objects") or []:
        meta = obj.get("metadata") or {}
        if obj.get("kind", "").lower() == kind and meta.get("name") == name and meta.get(
            "namespace", ""
        ) == namespace:
            return obj
    return None


def rollback_action(action: Action, pre_state: dict[str, Any] | None) -> Action:
    """Return the catalogue action that restores the pre-execution state, or an escalation."""
    target = action.target or ""
    kind = target.split("/")[1] if target.count("/") == 2 else ""
    obj = _find(pre_state, kind, target)
    if action.type == "scale" and obj is not None:
        replicas = (obj.get("spec") or {}).get("replicas")
        if isinstance(replicas, int) and replicas > 0:
            return Action(type="scale", target=target, params={"replicas": replicas})
    if action.type in ("rollout_restart", "rollout_undo", "set_resources") and kind == "deployment":
        annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
        revision = annotations.get("deployment.kubernetes.io/revision")
        if revision and str(revision).isdigit():
            return Action(type="rollout_undo", target=target, params={"to_revision": int(revision)})
    return Action(
        type="escalate",
        params={"reason": f"no automatic inverse for {action.type} on {target or '(none)'}: "
                          "restore the pre-execution state by hand"},
    )
