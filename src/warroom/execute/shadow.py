"""The shadow executor: records the exact API calls an action would make and changes nothing.

It never talks to a cluster. The state an action needs to be rendered (the Deployment and its
ReplicaSets for an undo, the pods on a node for a drain) comes from the Kubernetes objects of the
incident's evidence snapshot.
"""

from __future__ import annotations

from typing import Any

from warroom.agents.models import Action
from warroom.domain.calls import render_calls
from warroom.domain.targets import RenderError
from warroom.execute.ports import ExecutionOutcome


def _in_scope(obj: dict[str, Any], action: Action) -> bool:
    meta = obj.get("metadata") or {}
    target = (action.target or "").split("/")
    if len(target) != 3:
        return False
    namespace, kind, name = target
    if kind == "node":
        if obj.get("kind") == "Node":
            return bool(meta.get("name") == name)
        return bool((obj.get("spec") or {}).get("nodeName") == name)
    return bool(meta.get("namespace", "") == namespace)


class ShadowExecutor:
    """Record what would be sent; the cluster is never touched."""

    name = "shadow"

    def __init__(self, objects: list[dict[str, Any]] | None = None) -> None:
        self._objects = list(objects or [])

    async def capture_state(self, action: Action) -> dict[str, Any]:
        """Return the evidence objects the action would touch, as the pre-execution state."""
        return {
            "source": "evidence snapshot",
            "objects": [o for o in self._objects if _in_scope(o, action)],
        }

    async def dry_run(self, action: Action, *,
                      state: dict[str, Any] | None = None) -> ExecutionOutcome:
        """Render the calls without recording them as made."""
        try:
            calls = render_calls(action, state=state if state is not None
                                 else await self.capture_state(action))
        except RenderError as exc:
            return ExecutionOutcome(status="failed", error=str(exc))
        return ExecutionOutcome(status="dry_run_ok", calls=calls)

    async def execute(self, action: Action) -> ExecutionOutcome:
        """Return the exact calls as `recorded`; nothing is sent anywhere."""
        state = await self.capture_state(action)
        try:
            calls = render_calls(action, state=state)
        except RenderError as exc:
            return ExecutionOutcome(status="failed", error=str(exc), pre_state=state)
        return ExecutionOutcome(
            status="recorded",
            calls=calls,
            pre_state=state,
            result={"shadow": True, "changed": False, "calls": len(calls)},
        )
