"""The real executor: sends `render_calls` to the Kubernetes API through kubernetes-asyncio.

It re-checks the hard safety rules, reads the state the action touches first (kept as the
outcome's `pre_state` for verification and rollback), and turns API errors — a missing object
(404), a conflicting change (409), an invalid patch (422) — into a failed outcome carrying
the API server's own message.
"""

from __future__ import annotations

from typing import Any

from warroom.agents.models import Action
from warroom.config import Settings
from warroom.domain.call_state import state_requests
from warroom.domain.calls import render_calls
from warroom.domain.models import ApiCall
from warroom.domain.targets import RenderError
from warroom.execute.ports import ExecutionOutcome
from warroom.kube.client import KubeApi, KubeUnavailable
from warroom.kube.retry import classify_status
from warroom.safety.rules import RuleContext, check_action


class KubernetesExecutor:
    """Execute catalogue actions against a cluster (or the sandbox) over its REST API."""

    name = "kubernetes"

    def __init__(self, source: Settings | KubeApi | str | None = None, *,
                 timeout: float = 10.0) -> None:
        """Talk to the cluster of a KubeApi, a kubeconfig path, or the settings' kubeconfig.

        With settings, their `kube_timeout_seconds` and `kube_retries` apply, not `timeout`.
        """
        if isinstance(source, KubeApi):
            self.api = source
        elif isinstance(source, Settings):
            self.api = KubeApi(source.kubeconfig, timeout=source.kube_timeout_seconds,
                               retries=source.kube_retries)
        else:
            self.api = KubeApi(source or "", timeout=timeout)

    async def capture_state(self, action: Action) -> dict[str, Any]:
        """Read the objects the action touches: {"objects": [...], "queries": [...], "missing"}.

        A missing object is listed under `missing` with the API's message, not raised.
        """
        async with self.api.session():
            return await self._capture(action)

    async def _capture(self, action: Action) -> dict[str, Any]:
        objects: list[dict[str, Any]] = []
        queries: list[str] = []
        missing: list[dict[str, str]] = []
        try:
            requests = state_requests(action)
        except RenderError as exc:
            return {"objects": [], "queries": [], "missing": [], "error": str(exc)}
        for call in requests:
            queries.append(f"GET {call.path}")
            response = await self.api.request("GET", call.path)
            if response.status == 404:
                missing.append({"path": call.path, "message": response.message})
                continue
            if not response.ok:
                raise KubeUnavailable(f"GET {call.path}: {response.status} {response.message}")
            data = response.data
            if isinstance(data, dict) and str(data.get("kind", "")).endswith("List"):
                kind = str(data["kind"]).removesuffix("List")
                objects.extend({"apiVersion": data.get("apiVersion", "v1"), "kind": kind, **item}
                               for item in data.get("items", []))
            elif isinstance(data, dict):
                objects.append(data)
        return {"objects": objects, "queries": queries, "missing": missing}

    async def dry_run(self, action: Action, *,
                      state: dict[str, Any] | None = None) -> ExecutionOutcome:
        """Send every call with dryRun=All: the server validates and changes nothing.

        `state` is the pre-state the caller just captured; it is read again only when None.
        """
        return await self._run(action, dry_run=True, state=state)

    async def execute(self, action: Action, *,
                      expected_state: dict[str, Any] | None = None) -> ExecutionOutcome:
        """Make the calls; with `expected_state`, fail (409) if its objects changed since."""
        return await self._run(action, dry_run=False, expected_state=expected_state)

    async def _run(self, action: Action, *, dry_run: bool, state: dict[str, Any] | None = None,
                   expected_state: dict[str, Any] | None = None) -> ExecutionOutcome:
        try:
            async with self.api.session():
                return await self._run_in_session(action, dry_run=dry_run, state=state,
                                                  expected_state=expected_state)
        except KubeUnavailable as exc:
            return ExecutionOutcome(status="failed", error=str(exc))

    async def _run_in_session(self, action: Action, *, dry_run: bool,
                              state: dict[str, Any] | None,
                              expected_state: dict[str, Any] | None) -> ExecutionOutcome:
        if action.type in ("escalate", "no_action"):
            return ExecutionOutcome(status="dry_run_ok" if dry_run else "succeeded",
                                    result={"note": f"{action.type} makes no API call"})
        # a real write reads the state again right before it: its resourceVersion is the
        # precondition of the write, and the approval may have waited minutes
        try:
            state = state if state is not None else await self.capture_state(action)
        except KubeUnavailable as exc:
            return ExecutionOutcome(status="failed", error=str(exc))
        violations = check_action(action, RuleContext(objects=state["objects"]))
        if violations:
            return ExecutionOutcome(status="refused", pre_state=state, error="; ".join(
                f"{v.rule}: {v.message}" for v in violations))
        if state.get("missing"):
            first = state["missing"][0]
            return ExecutionOutcome(status="failed", pre_state=state,
                                    error=f"{first['message']} (GET {first['path']})")
        try:
            calls = render_calls(action, state=expected_state or state)
        except RenderError as exc:
            return ExecutionOutcome(status="failed", pre_state=state, error=str(exc))
        results: list[dict[str, Any]] = []
        for index, call in enumerate(calls):
            try:
                response = await self._send(call, dry_run=dry_run)
            except KubeUnavailable as exc:
                return ExecutionOutcome(status="failed", calls=calls, pre_state=state,
                                        result={"responses": results}, error=str(exc))
            results.append({"method": call.method, "path": call.path,
                            "status": response.status})
            if not response.ok:
                reason = response.data.get("reason", "") if isinstance(response.data, dict) \
                    else ""
                done = f" after {index} of {len(calls)} calls succeeded" if index else ""
                verdict = classify_status(call.method, response.status, dry_run=dry_run)
                why = f" ({verdict.reason})" if response.status >= 500 else ""
                return ExecutionOutcome(
                    status="failed", calls=calls, pre_state=state,
                    result={"responses": results},
                    error=f"{call.method} {call.path} answered {response.status}"
                          f"{' ' + reason if reason else ''}: {response.message}{done}{why}")
        return ExecutionOutcome(status="dry_run_ok" if dry_run else "succeeded", calls=calls,
                                pre_state=state, result={"responses": results})

    async def _send(self, call: ApiCall, *, dry_run: bool) -> Any:
        query = [("dryRun", "All")] if dry_run and call.method != "GET" else None
        return await self.api.request(call.method, call.path, body=call.body,
                                      content_type=call.content_type, query=query)

    async def close(self) -> None:
        """Close the API client."""
        await self.api.close()
