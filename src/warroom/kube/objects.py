"""What Kubernetes objects say, read the same way by the sensors and the sandbox."""

from __future__ import annotations

from typing import Any

from warroom.domain.targets import RESTARTED_AT, REVISION

__all__ = ["RESTARTED_AT", "REVISION", "describe_template_change"]


def describe_template_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Say what changed between two ReplicaSets' pod templates."""
    old = before["spec"]["template"]
    new = after["spec"]["template"]
    notes = []
    old_c = {c["name"]: c for c in old.get("spec", {}).get("containers", [])}
    for container in new.get("spec", {}).get("containers", []):
        prior = old_c.get(container["name"], {})
        if prior.get("image") != container.get("image"):
            notes.append(f"image {prior.get('image')} -> {container.get('image')}")
        if prior.get("resources") != container.get("resources"):
            notes.append(f"resources of {container['name']} -> {container.get('resources')}")
        if prior.get("env") != container.get("env"):
            notes.append(f"env of {container['name']} changed")
        for probe in ("livenessProbe", "readinessProbe"):
            if prior.get(probe) != container.get(probe):
                notes.append(f"{probe} of {container['name']} changed")
    old_ann = (old.get("metadata") or {}).get("annotations") or {}
    new_ann = (new.get("metadata") or {}).get("annotations") or {}
    if old_ann.get(RESTARTED_AT) != new_ann.get(RESTARTED_AT) and new_ann.get(RESTARTED_AT):
        notes.append(f"rollout restart at {new_ann[RESTARTED_AT]}")
    if (old.get("spec") or {}).get("nodeSelector") != (new.get("spec") or {}).get("nodeSelector"):
        notes.append(f"nodeSelector -> {(new.get('spec') or {}).get('nodeSelector')}")
    return "; ".join(notes) or "pod template changed"
