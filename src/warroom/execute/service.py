"""Execute an approved decision at most once: re-check, dry-run, capture, record, then call.

The idempotency record (one `executions` row per API call, key `TOKEN:INDEX`) is committed in
its own transaction BEFORE the executor is called. A step re-run after a crash finds it:
finished rows mean the work is done and nothing is called again; rows still `started` mean the
worker died mid-call. The shadow executor's only effect is that record, so it completes it; a
real executor cannot know whether its call reached the API server, so the execution is marked
failed for a human to check instead of being sent twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings
from warroom.decisions import repository
from warroom.decisions.service import ready_package, transition
from warroom.domain.calls import render_calls
from warroom.domain.models import Action, ApiCall
from warroom.domain.targets import RenderError
from warroom.execute.kubernetes import KubernetesExecutor
from warroom.execute.ports import Executor
from warroom.execute.shadow import ShadowExecutor
from warroom.safety.rules import check_action
from warroom.store import audit
from warroom.store.db import transaction
from warroom.store.tables import Decision, Execution


class ExecutionReport(BaseModel):
    """What the execution step did, for the workflow and the timeline."""

    status: Literal["succeeded", "failed", "refused", "skipped"]
    executor: str
    calls: list[ApiCall] = []
    error: str | None = None
    resumed: bool = False  # a previous attempt had already written the idempotency record


def make_executor(settings: Settings, objects: list[dict[str, Any]]) -> Executor:
    """Return the shadow executor, or the Kubernetes one when shadow mode is off."""
    if settings.shadow_mode:
        return ShadowExecutor(objects)

    executor: Executor = KubernetesExecutor(settings)
    return executor


def _key(token: str, index: int) -> str:
    return f"{token}:{index}"


async def _fail(
    session: AsyncSession, decision: Decision, kind: str, error: str, executor: str
) -> ExecutionReport:
    await audit.append(
        session, kind=kind, payload={"error": error, "executor": executor},
        incident_id=decision.incident_id, decision_token=decision.token,
    )
    if decision.status in ("approved", "executing"):
        await transition(session, decision, "failed", payload={"reason": error})
    status: Literal["refused", "failed"] = (
        "refused" if kind == "execution.refused" else "failed"
    )
    return ExecutionReport(status=status, executor=executor, error=error)


async def _load(session: AsyncSession, token: str) -> tuple[Decision, Action]:
    decision = await repository.get(session, token, for_update=True)
    if decision is None:
        raise LookupError(f"no decision with token {token!r}")
    action = ready_package(decision).action
    if action is None:
        raise ValueError(f"decision {token}: its package names no action to execute")
    return decision, action


async def execute_decision(
    sessions: async_sessionmaker[AsyncSession],
    token: str,
    *,
    executor: Executor,
    settings: Settings,
) -> ExecutionReport:
    """Carry out an approved decision's action exactly as approved, at most once."""
    async with transaction(sessions) as session:
        decision, action = await _load(session, token)
        rows = list(await repository.executions(session, token))
        if rows and all(r.status != "started" for r in rows):
            ok = all(r.status == "succeeded" for r in rows)
            return ExecutionReport(
                status="succeeded" if ok else "failed", executor=rows[0].executor,
                calls=[ApiCall.model_validate(r.request) for r in rows if r.request],
                resumed=True,
            )
        if rows and executor.name != "shadow":
            for row in rows:
                row.status, row.error = "failed", "worker died mid-call; not retried"
                row.finished_at = datetime.now(UTC)
            return await _fail(
                session, decision, "execution.interrupted",
                "the worker died during the call; whether it reached the API server is "
                "unknown, so it is not sent again: a human must check", executor.name,
            )
        if decision.status not in ("approved", "executing"):
            return ExecutionReport(
                status="skipped", executor=executor.name,
                error=f"decision is {decision.status}, not approved",
            )
        violations = check_action(action)
        if violations:
            text = "; ".join(f"{v.rule}: {v.message}" for v in violations)
            return await _fail(session, decision, "execution.refused", text, executor.name)
        if decision.status == "approved":
            await transition(session, decision, "executing", payload={"executor": executor.name})

    resumed = bool(rows)
    if not rows:
        try:
            pre_state = await executor.capture_state(action)
            planned = render_calls(action, state=pre_state)
            if not planned:
                raise RenderError(f"{action.type} renders no API call")
        except Exception as exc:  # reading state or rendering failed: nothing was sent
            async with transaction(sessions) as session:
                decision, _ = await _load(session, token)
                return await _fail(
                    session, decision, "execution.failed", f"pre-state: {exc}", executor.name
                )
        if executor.name != "shadow":
            dry = await executor.dry_run(action, state=pre_state)
            if dry.status not in ("dry_run_ok", "succeeded", "recorded"):
                async with transaction(sessions) as session:
                    decision, _ = await _load(session, token)
                    return await _fail(
                        session, decision, "execution.dry_run_failed",
                        dry.error or dry.status, executor.name,
                    )
        # the idempotency record, committed before anything is sent
        async with transaction(sessions) as session:
            decision, _ = await _load(session, token)
            started = datetime.now(UTC)
            for index, call in enumerate(planned):
                session.add(Execution(
                    decision_token=token, idempotency_key=_key(token, index),
                    executor=executor.name, status="started",
                    action=action.model_dump(mode="json"),
                    request=call.model_dump(mode="json"),
                    kubectl=call.kubectl, pre_state=pre_state, started_at=started,
                ))
            await audit.append(
                session, kind="execution.started",
                payload={"executor": executor.name, "calls": len(planned),
                         "pre_state_objects": len(pre_state.get("objects") or [])},
                incident_id=decision.incident_id, decision_token=token,
            )
    if settings.execute_pause_seconds:
        await asyncio.sleep(settings.execute_pause_seconds)

    outcome = await executor.execute(action)
    ok = outcome.status in ("succeeded", "recorded")
    async with transaction(sessions) as session:
        decision, _ = await _load(session, token)
        rows = list(await repository.executions(session, token))
        finished = datetime.now(UTC)
        for index, row in enumerate(rows):
            if index < len(outcome.calls):
                made = outcome.calls[index]
                row.request, row.kubectl = made.model_dump(mode="json"), made.kubectl
            row.status = "succeeded" if ok else "failed"
            row.result, row.error, row.finished_at = outcome.result, outcome.error, finished
            await audit.append(
                session, kind="execution.call",
                payload={"executor": executor.name, "status": row.status,
                         "request": row.request, "kubectl": row.kubectl,
                         "result": outcome.result, "error": outcome.error},
                incident_id=decision.incident_id, decision_token=token,
            )
        if ok:
            await transition(session, decision, "verifying", payload={"executor": executor.name})
        else:
            await transition(session, decision, "failed", payload={"reason": outcome.error})
        return ExecutionReport(
            status="succeeded" if ok else "failed", executor=executor.name,
            calls=outcome.calls, error=outcome.error, resumed=resumed,
        )

