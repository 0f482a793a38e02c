"""The stages of the incident workflow as plain async functions, each one committed unit.

`incident.py` wraps each in a DBOS step; a step re-run after a crash (DBOS runs the step that
was in flight again) must find its own earlier work and not repeat it, so every function here
is idempotent on the decision token. Each takes the worker's `Runtime` (settings, sessions,
sensors, executor, the debate) from the workflow instance that runs it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.agents import repository as snapshots
from warroom.decisions import repository
from warroom.decisions.policy import evaluate
from warroom.decisions.service import (
    approval_state,
    mark_ready,
    open_decision,
    ready_package,
    transition,
)
from warroom.domain.models import DebateExtras, DecisionPackage, human_must_decide
from warroom.execute.service import execute_decision
from warroom.ingest import repository as incidents
from warroom.learn.service import learn_outcome, playbook_trust
from warroom.observe.metrics import (
    DEBATE_SECONDS,
    EXECUTIONS,
    VERIFICATION_SCORE,
    WORKFLOWS_CLOSED,
)
from warroom.store import audit
from warroom.store.db import DATABASE_TROUBLE, transaction
from warroom.store.tables import Approval, Decision
from warroom.verify.service import verify_decision
from warroom.workflow.runtime import Runtime

log = structlog.get_logger(__name__)

def act_workflow_id(decision_workflow_id: str) -> str:
    """Return the id of the workflow that carries a decision from approval to the end."""
    return f"{decision_workflow_id}:act"


def execution_lane(target: str | None) -> str:
    """Return the lane an action's execution queues in: its namespace (nodes: the cluster)."""
    namespace = (target or "").split("/")[0]
    return f"namespace:{namespace}" if namespace else "cluster"


def _ready_view(decision: Decision) -> dict[str, Any]:
    package = decision.package
    action = package.action if package is not None else None
    return {
        "lane": execution_lane(action.target if action is not None else None),
        "token": decision.token,
        "incident_id": decision.incident_id,
        "status": decision.status,
        "executable": package is not None and package.policy.executable,
        "auto_execute": package is not None and package.policy.auto_execute,
        "workflow_id": decision.workflow_id,
    }


async def open_step(runtime: Runtime, incident_id: str, workflow_id: str) -> str:
    """Open (or find) the decision this workflow carries and return its token."""
    async with runtime.writing() as session:
        decision, _ = await open_decision(
            session, incident_id=incident_id, workflow_id=workflow_id
        )
        return decision.token


async def analyze_step(runtime: Runtime, token: str) -> dict[str, Any]:
    """Sense and debate within the decision deadline, apply the policy, mark the decision ready."""
    settings = runtime.settings
    sessions = runtime.sessions()
    async with transaction(sessions) as session:
        decision = await repository.get(session, token)
        if decision is None:
            raise LookupError(f"no decision with token {token!r}")
        if decision.status != "analyzing":  # a re-run: the package is already stored
            return _ready_view(decision)
        incident_id = decision.incident_id
    extras: DebateExtras | None = None
    trust: dict[str, float] | None = None  # the debate's, so it is read once per round
    package: DecisionPackage
    started = time.perf_counter()
    debated = False
    try:
        # the debate's writes (snapshot, turns, summary) and the decision's move to `ready`
        # share one commit: on SQLite every commit is one more turn of the database's single
        # write lock that ingestion waits for; the worker's turn is taken when writing starts
        async with runtime.writing_later() as session:
            result = await asyncio.wait_for(
                runtime.analyzer(
                    session, incident_id, settings=settings, sensors=runtime.sensors(),
                    bus=runtime.bus,
                ),
                timeout=settings.decision_deadline_seconds,
            )
            debated = True
            package = result.package
            critique = getattr(result, "critique", None)
            extras = DebateExtras(
                session_id=getattr(result, "session_id", None),
                challenges=list(getattr(critique, "challenges", [])),
                latency_ms=getattr(result, "latency_ms", None),
                incident_summary=getattr(result, "summary", ""),
            )
            _debated(package, started)
            return await _mark_ready(runtime, session, token, package,
                                     getattr(result, "playbook_trust", None), extras)
    except TimeoutError:
        if debated:  # the store failed, not the debate: the step is retried
            raise
        package = human_must_decide(
            f"the debate did not finish within {settings.decision_deadline_seconds:g} s",
            "timeout", outcome="workflow_fallback",
        )
        log.warning("workflow.debate_timeout", deadline=settings.decision_deadline_seconds)
    except Exception as exc:  # the debate promised not to raise; a decision is ready anyway
        if debated or isinstance(exc, DATABASE_TROUBLE):  # the store failed: retried
            raise
        package = human_must_decide(f"the debate failed: {type(exc).__name__}: {exc}",
                                    "failed", outcome="workflow_fallback")
        log.exception("workflow.debate_failed")
    # the debate's own writes rolled back with it: the fallback package stands alone
    _debated(package, started)
    async with runtime.writing() as session:
        return await _mark_ready(runtime, session, token, package, trust, extras)


def _debated(package: DecisionPackage, started: float) -> None:
    DEBATE_SECONDS.labels(package.status).observe(time.perf_counter() - started)
    log.info("workflow.debated", status=package.status, outcome=package.outcome,
             action=package.action.type if package.action else None)


async def _mark_ready(
    runtime: Runtime, session: AsyncSession, token: str, package: DecisionPackage,
    trust: dict[str, float] | None, extras: DebateExtras | None,
) -> dict[str, Any]:
    """Judge the package by the policy and mark the decision ready, in the caller's commit."""
    decision = await repository.get(session, token, for_update=True)
    assert decision is not None
    if decision.status != "analyzing":
        return _ready_view(decision)
    if trust is None:  # the debate did not finish: nobody read it yet
        trust = await playbook_trust(session)
    policy = evaluate(package, settings=runtime.settings, trust=trust)
    await mark_ready(
        session, decision, package, policy=policy, settings=runtime.settings, extras=extras
    )
    return _ready_view(decision)


async def describe_step(runtime: Runtime, token: str) -> dict[str, Any]:
    """Return what the act workflow needs to know about a ready decision."""
    async with transaction(runtime.sessions()) as session:
        decision = await repository.get(session, token)
        if decision is None:
            raise LookupError(f"no decision with token {token!r}")
        return _ready_view(decision)


async def complete_without_action_step(runtime: Runtime, token: str) -> str:
    """Close a decision that has nothing to execute: the incident goes to a human."""
    async with runtime.writing() as session:
        decision = await repository.get(session, token, for_update=True)
        assert decision is not None
        if decision.status == "ready":
            package = ready_package(decision)
            action = package.action
            await audit.append(
                session, kind="decision.escalated",
                payload={"reason": (action.params.get("reason") if action else None)
                         or package.summary,
                         "action": action.type if action else None},
                incident_id=decision.incident_id, decision_token=token,
            )
            await transition(session, decision, "completed", payload={"executed": False})
            # the workflow's file closes in the same commit (one turn of SQLite's write lock
            # instead of two); `close_step` then finds it closed
            closed = await _write_close(session, decision, "escalated")
        else:
            closed = None
    if closed is not None:
        _closed(closed)
    return decision.status


async def auto_approve_step(runtime: Runtime, token: str) -> str:
    """Record the policy's approval of a decision it lets run without a human."""
    async with runtime.writing() as session:
        decision = await repository.get(session, token, for_update=True)
        assert decision is not None
        if decision.status != "ready":
            return decision.status
        reasons = ready_package(decision).policy
        session.add(Approval(
            decision_token=token, approver="policy", verdict="approve",
            comment=f"auto-execute: low risk, playbook trust {reasons.trust}",
            via="policy", at=datetime.now(UTC),
        ))
        await transition(session, decision, "approved", actor="policy",
                         payload={"auto": True, "trust": reasons.trust})
        return decision.status


async def settle_approval_step(
    runtime: Runtime, token: str, *, expire: bool, reason: str = ""
) -> dict[str, Any]:
    """Apply the recorded answers: approve, reject, or (when told) expire and escalate."""
    settings = runtime.settings
    async with runtime.writing() as session:
        decision = await repository.get(session, token, for_update=True)
        assert decision is not None
        if decision.status != "ready":
            return {"state": decision.status, "remaining": 0.0}
        # read, not only told: a "resolved" message sent before this workflow existed is lost
        incident = await incidents.get_incident(session, decision.incident_id)
        if incident is not None and incident.status == "resolved" and not reason:
            reason = "the incident resolved before any approval"
            expire = True
        state = await approval_state(session, decision)
        answers = await repository.approvals(session, token)
        who = [a.approver for a in answers]
        if state == "approved":
            await transition(session, decision, "approved", actor=", ".join(who),
                             payload={"approvers": who})
            return {"state": "approved", "remaining": 0.0}
        if state == "rejected":
            rejecter = next(a.approver for a in answers if a.verdict == "reject")
            await transition(session, decision, "rejected", actor=rejecter,
                             payload={"by": rejecter})
            return {"state": "rejected", "remaining": 0.0}
        expires = decision.expires_at or datetime.now(UTC)
        remaining = (expires - datetime.now(UTC)).total_seconds()
        if expire or remaining <= 0:
            why = reason or f"no approval within {settings.approval_timeout_seconds:g} s"
            await transition(session, decision, "expired", payload={"reason": why,
                                                                    "approvals": who})
            if not reason:
                await audit.append(
                    session, kind="decision.escalated",
                    payload={"reason": why, "team": ready_package(decision).team},
                    incident_id=decision.incident_id, decision_token=token,
                )
            return {"state": "expired", "remaining": 0.0}
        return {"state": "pending", "remaining": remaining, "approvals": who}


async def execute_step(runtime: Runtime, token: str) -> dict[str, Any]:
    """Run the approved action through the executor the settings choose, at most once."""
    sessions = runtime.sessions()
    async with sessions() as session:
        decision = await repository.get(session, token)
        assert decision is not None
        row = await snapshots.latest_snapshot(session, decision.incident_id)
    objects = list((row.data if row is not None else {}).get("objects") or [])
    executor = runtime.executor_factory(runtime.settings, objects)
    report = await execute_decision(
        sessions, token, executor=executor, settings=runtime.settings
    )
    EXECUTIONS.labels(report.executor, report.status).inc()
    log.info("workflow.executed", executor=report.executor, status=report.status,
             calls=len(report.calls), error=report.error)
    return report.model_dump(mode="json")


async def verify_step(runtime: Runtime, token: str) -> dict[str, Any]:
    """Observe the outcome with the same sensors and score it."""
    result = await verify_decision(
        runtime.sessions(), token, settings=runtime.settings, sensors=runtime.sensors()
    )
    VERIFICATION_SCORE.labels(result.verdict).observe(result.score)
    log.info("workflow.verified", verdict=result.verdict, score=result.score,
             rollback_token=result.rollback_token)
    return result.model_dump(mode="json")


async def learn_step(runtime: Runtime, token: str) -> dict[str, Any] | None:
    """Feed the verified outcome into the playbook's trust (once per decision)."""
    async with runtime.writing() as session:
        decision = await repository.get(session, token)
        assert decision is not None
        done = await audit.list_events(session, decision_token=token, kind="learn.updated")
        if done:
            return dict(done[-1].payload)
        verifications = list(await repository.verifications(session, token))
        if not verifications:
            return None
        v = verifications[-1]
        return await learn_outcome(
            session, decision, verdict=v.verdict, score=v.score, details=v.details,
            settings=runtime.settings,
        )


async def close_step(runtime: Runtime, token: str, outcome: str) -> dict[str, Any]:
    """Close the workflow's file on the incident (ingestion resolves it when alerts resolve)."""
    async with runtime.writing() as session:
        decision = await repository.get(session, token)
        assert decision is not None
        done = await audit.list_events(session, decision_token=token, kind="workflow.closed")
        if done:
            return dict(done[-1].payload)
        payload = await _write_close(session, decision, outcome)
    _closed(payload)
    return payload


async def _write_close(session: AsyncSession, decision: Decision, outcome: str) -> dict[str, Any]:
    """Append the workflow's closing record in the caller's transaction; return its payload."""
    incident = await incidents.get_incident(session, decision.incident_id)
    payload = {
        "outcome": outcome,
        "decision_status": decision.status,
        "incident_status": incident.status if incident is not None else None,
    }
    await audit.append(
        session, kind="workflow.closed", payload=payload,
        incident_id=decision.incident_id, decision_token=decision.token,
    )
    return payload


def _closed(payload: dict[str, Any]) -> None:
    """Count and log a closing record once it is committed."""
    WORKFLOWS_CLOSED.labels(payload["outcome"]).inc()
    log.info("workflow.closed", outcome=payload["outcome"],
             decision_status=payload["decision_status"])
