"""The durable incident workflows, on DBOS Transact.

`incident_workflow` (queued, global concurrency `workflow_concurrency`: the debates across the
fleet): open the decision,
sense and debate, decide. It then starts `decision_workflow` for the decision and ends, so a
decision waiting hours for a human holds no queue slot. `decision_workflow`: wait for approval
(a durable `recv` with the approval window as timeout), execute, wait out the warm-up, verify,
learn, close. The execution itself is a child workflow on a queue partitioned by namespace
(one execution at a time per namespace, `execution_concurrency` across the fleet). Every stage
is a step: after a crash DBOS resumes from the last completed step,
and the step that was in flight is run again (each one is idempotent on the decision token).

The workflows and steps are methods of one DBOS configured instance that holds the worker's
`Runtime`: DBOS records the class and instance name with every workflow and hands a recovered
or dequeued workflow that instance, so the steps reach their dependencies as `self.runtime`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from dbos import (
    DBOS,
    DBOSConfiguredInstance,
    PropagateOtelContext,
    SetEnqueueOptions,
    SetWorkflowID,
)
from structlog.contextvars import bound_contextvars

from warroom.observe.metrics import STEP_SECONDS
from warroom.store.db import DATABASE_TROUBLE
from warroom.workflow import steps
from warroom.workflow.runtime import Runtime

QUEUE = "warroom-incidents"
# executions, partitioned by namespace: one at a time per namespace, `execution_concurrency`
# across the fleet
EXECUTE_QUEUE = "warroom-executions"
EXECUTE_WORKFLOW = "warroom.execution"  # a workflow: its one step is warroom.execute
TOPIC = "warroom"  # the mailbox of a decision workflow: approvals and incident changes
INCIDENT_WORKFLOW = "warroom.incident"
DECISION_WORKFLOW = "warroom.decision"
# the names DBOS stores with every workflow to find the instance it runs on: every worker
# registers the same ones, so any of them can dequeue or recover any workflow
CLASS_NAME = "warroom.workflows"
INSTANCE_NAME = "warroom"


def _transient(exc: BaseException) -> bool:
    """Retry a step on database or network trouble, never on a logic error."""
    return isinstance(exc, (*DATABASE_TROUBLE, OSError, TimeoutError))


# a step's attempts on transient trouble, 0.5 s apart and doubling: 63.5 s in all, which rides
# out a database failover (a step out of attempts fails its workflow for good)
STEP_ATTEMPTS = 8


def _step(name: str) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Any]]:
    """A DBOS step that rides out transient failures, timed per attempt; all are idempotent."""
    durable = DBOS.step(name=name, retries_allowed=True, max_attempts=STEP_ATTEMPTS,
                        interval_seconds=0.5, backoff_rate=2.0, should_retry=_transient)

    def decorate(function: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
        @functools.wraps(function)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = "error"
            try:
                value = await function(*args, **kwargs)
                result = "ok"
                return value
            finally:
                STEP_SECONDS.labels(name, result).observe(time.perf_counter() - started)

        return durable(timed)

    return decorate


def incident_workflow_id(incident_id: str, round_no: int) -> str:
    """Return the workflow id of one decision round of an incident (same alert, same id)."""
    return f"incident:{incident_id}:{round_no}"


def register(runtime: Runtime) -> DBOSConfiguredInstance:
    """Register the workflows with DBOS, run by `runtime`; call once before each `DBOS.launch`.

    DBOS keeps one configured instance per name in a registry that outlives `DBOS.destroy`
    unless that destroys it too, and it binds decorated functions to the registry they were
    declared in. So the class is declared here, per launch, and `engine.shutdown` destroys
    the registry: a process (a test run, the benchmark) can launch again with another runtime.
    """

    @DBOS.dbos_class(CLASS_NAME)
    class IncidentWorkflows(DBOSConfiguredInstance):
        def __init__(self, runtime: Runtime) -> None:
            self.runtime = runtime
            super().__init__(INSTANCE_NAME)

        @_step("warroom.decide")
        async def _decide(self, incident_id: str, workflow_id: str) -> dict[str, Any]:
            # two commits in one step: the decision shows `analyzing` while the debate runs,
            # and a re-run after a crash finds it by workflow id instead of opening another
            token = await steps.open_step(self.runtime, incident_id, workflow_id)
            return await steps.analyze_step(self.runtime, token)

        @_step("warroom.describe")
        async def _describe(self, token: str) -> dict[str, Any]:
            return await steps.describe_step(self.runtime, token)

        @_step("warroom.escalate")
        async def _complete_without_action(self, token: str) -> str:
            return await steps.complete_without_action_step(self.runtime, token)

        @_step("warroom.auto_approve")
        async def _auto_approve(self, token: str) -> str:
            return await steps.auto_approve_step(self.runtime, token)

        @_step("warroom.settle_approval")
        async def _settle(self, token: str, expire: bool, reason: str) -> dict[str, Any]:
            return await steps.settle_approval_step(self.runtime, token, expire=expire,
                                                    reason=reason)

        @_step("warroom.execute")
        async def _execute(self, token: str) -> dict[str, Any]:
            return await steps.execute_step(self.runtime, token)

        @_step("warroom.verify")
        async def _verify(self, token: str) -> dict[str, Any]:
            return await steps.verify_step(self.runtime, token)

        @_step("warroom.learn")
        async def _learn(self, token: str) -> dict[str, Any] | None:
            return await steps.learn_step(self.runtime, token)

        @_step("warroom.close")
        async def _close(self, token: str, outcome: str) -> dict[str, Any]:
            return await steps.close_step(self.runtime, token, outcome)

        @_step("warroom.warmup")
        async def _warmup_seconds(self) -> float:
            return self.runtime.settings.verify_warmup_seconds

        @DBOS.workflow(name=INCIDENT_WORKFLOW)
        async def incident_workflow(self, incident_id: str) -> dict[str, Any]:
            """Sense, debate and decide for one incident round, then hand the decision on."""
            workflow_id = DBOS.workflow_id
            assert workflow_id is not None
            with bound_contextvars(incident_id=incident_id, workflow_id=workflow_id):
                ready = await self._decide(incident_id, workflow_id)
                token = ready["token"]
                decision_workflow_id = steps.act_workflow_id(ready["workflow_id"] or workflow_id)
                # the decision workflow continues this trace (DBOS does not pass it on itself)
                with SetWorkflowID(decision_workflow_id), PropagateOtelContext():
                    await DBOS.start_workflow_async(self.decision_workflow, token)
            return {"token": token, "decision_workflow": decision_workflow_id, **ready}

        async def _await_approval(self, token: str) -> str:
            """Wait durably for enough approvals, a rejection, the expiry, or the resolution."""
            while True:
                settled = await self._settle(token, False, "")
                if settled["state"] != "pending":
                    return str(settled["state"])
                message = await DBOS.recv_async(
                    TOPIC, timeout_seconds=max(settled["remaining"], 0.001)
                )
                if isinstance(message, dict) and message.get("type") == "incident" and \
                        message.get("status") == "resolved":
                    settled = await self._settle(
                        token, True, "the incident resolved before any approval"
                    )
                    return str(settled["state"])

        @DBOS.workflow(name=EXECUTE_WORKFLOW)
        async def execute_workflow(self, token: str) -> dict[str, Any]:
            """Execute an approved decision, dequeued in its namespace's lane."""
            return await self._execute(token)

        async def _execute_in_lane(self, token: str, lane: str) -> dict[str, Any]:
            """Queue the execution in its namespace's lane and wait for it (a child)."""
            workflow_id = DBOS.workflow_id
            with SetWorkflowID(f"{workflow_id}:execute"), \
                    SetEnqueueOptions(queue_partition_key=lane), PropagateOtelContext():
                handle = await DBOS.enqueue_workflow_async(
                    EXECUTE_QUEUE, self.execute_workflow, token
                )
            return await handle.get_result()

        @DBOS.workflow(name=DECISION_WORKFLOW)
        async def decision_workflow(self, token: str) -> dict[str, Any]:
            """Carry a ready decision through approval, execution, verification, learning."""
            with bound_contextvars(decision_token=token):
                ready = await self._describe(token)
                # a view recorded before the incident id was part of it replays without one
                with bound_contextvars(incident_id=ready.get("incident_id")):
                    return await self._carry(token, ready)

        async def _carry(self, token: str, ready: dict[str, Any]) -> dict[str, Any]:
            if ready["status"] == "ready" and not ready["executable"]:
                await self._complete_without_action(token)
                return await self._close(token, "escalated")
            if ready["status"] == "ready" and ready["auto_execute"]:
                state = await self._auto_approve(token)
            elif ready["status"] == "ready":
                state = await self._await_approval(token)
            else:
                state = ready["status"]
            if state not in ("approved", "executing", "verifying"):
                return await self._close(token, state)
            if state != "verifying":
                report = await self._execute_in_lane(token, ready["lane"])
                if report["status"] != "succeeded":
                    return await self._close(token, f"execution {report['status']}")
            await DBOS.sleep_async(await self._warmup_seconds())
            verdict = await self._verify(token)
            if verdict.get("rollback_token"):
                proposal = await self._describe(verdict["rollback_token"])
                with SetWorkflowID(steps.act_workflow_id(proposal["workflow_id"])), \
                        PropagateOtelContext():
                    await DBOS.start_workflow_async(self.decision_workflow, proposal["token"])
            await self._learn(token)
            return await self._close(token, str(verdict["verdict"]))

    return IncidentWorkflows(runtime)
