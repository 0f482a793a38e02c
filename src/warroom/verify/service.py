"""Verify an executed decision: post-state from the same sensors, compared with the pre-state.

The self-healing score (0..1) weighs three questions:
  0.5  the root-cause signal of the target cleared (its health indicators are back in bounds and
       it has no new restarts; when the sensors measured nothing about it, the alert decides)
  0.3  the incident's alerts resolved
  0.2  no regression elsewhere (new restarts, an error-ratio rise); each one costs half of it
Verdict: success at 0.8 or more, degraded at 0.5 or more, failed under 0.5, timeout when the
post-state could not be observed. A score under 0.5 after a real execution yields a rollback
*proposal*: a new decision (with `parent_token`) that always needs a human.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.agents import repository as snapshots
from warroom.config import Settings
from warroom.decisions import repository
from warroom.decisions.service import mark_ready, open_decision, ready_package, transition
from warroom.domain.models import DecisionPackage, PolicyVerdict
from warroom.ingest import repository as incidents
from warroom.sensors.models import EvidenceData, EvidenceSnapshot
from warroom.sensors.ports import Sensor
from warroom.sensors.scope import build_request
from warroom.sensors.service import take_snapshot
from warroom.store import audit
from warroom.store.db import transaction
from warroom.store.tables import Decision, Incident, Signal, Verification
from warroom.verify import health
from warroom.verify.rollback import rollback_action

Snapshotter = Callable[..., Awaitable[EvidenceSnapshot]]


class VerificationResult(BaseModel):
    verdict: str
    score: float
    details: dict[str, Any]
    rollback_token: str | None = None


def judge(
    *,
    pre: EvidenceData | None,
    post: EvidenceData | None,
    alerts_resolved: bool,
    target: str,
    observed: bool,
) -> tuple[str, float, dict[str, Any]]:
    """Return verdict, self-healing score and the facts behind them."""
    before = health.summarize(pre) if pre is not None else {}
    after = health.summarize(post) if post is not None else {}
    cleared = health.target_cleared(before.get(target), after.get(target))
    root_cause_cleared = alerts_resolved if cleared is None else cleared
    found = health.regressions(before, after, exclude=target)
    score = (
        0.5 * root_cause_cleared
        + 0.3 * alerts_resolved
        + 0.2 * max(0.0, 1.0 - 0.5 * len(found))
    )
    score = round(score, 4)
    if not observed:
        verdict = "timeout"
    elif score >= 0.8:
        verdict = "success"
    elif score >= 0.5:
        verdict = "degraded"
    else:
        verdict = "failed"
    details = {
        "target": target,
        "root_cause_cleared": bool(root_cause_cleared),
        "root_cause_measured": cleared is not None,
        "alerts_resolved": alerts_resolved,
        "regressions": found,
        "pre": {k: v.model_dump() for k, v in before.items() if k == target},
        "post": {k: v.model_dump() for k, v in after.items() if k == target},
        "observed": observed,
    }
    return verdict, score, details


async def _inputs(
    session: AsyncSession, decision: Decision
) -> tuple[Incident, list[Signal], EvidenceData | None]:
    incident = await incidents.get_incident(session, decision.incident_id)
    if incident is None:
        raise LookupError(f"decision {decision.token}: incident {decision.incident_id} is gone")
    signals = await incidents.list_signals(session, incident.id)
    row = await snapshots.latest_snapshot(session, incident.id)
    pre = EvidenceData.model_validate(row.data) if row is not None else None
    return incident, signals, pre


async def _observe(
    incident: Incident, signals: list[Signal], *, sensors: list[Sensor], settings: Settings,
    snapshot: Snapshotter | None,
) -> EvidenceSnapshot | None:
    if snapshot is None:
        snapshot = take_snapshot
    # the scope the analysis read the cluster with, so pre- and post-state cover the same
    request = build_request(incident, signals, now=datetime.now(UTC),
                            lookback_seconds=max(60, int(settings.verify_warmup_seconds) * 2))
    try:
        return await asyncio.wait_for(
            snapshot(request, sensors, timeout=settings.sensor_timeout_seconds),
            timeout=settings.verify_timeout_seconds,
        )
    except TimeoutError:
        return None


async def verify_decision(
    sessions: async_sessionmaker[AsyncSession],
    token: str,
    *,
    settings: Settings,
    sensors: list[Sensor],
    snapshot: Snapshotter | None = None,
) -> VerificationResult:
    """Observe after the warm-up, score the outcome, record it and move the decision on."""
    async with transaction(sessions) as session:
        decision = await repository.get(session, token)
        if decision is None:
            raise LookupError(f"no decision with token {token!r}")
        done = list(await repository.verifications(session, token))
        if done:  # a re-run after a crash: the verdict is already recorded
            v = done[-1]
            return VerificationResult(verdict=v.verdict, score=v.score, details=v.details)
        incident, signals, pre = await _inputs(session, decision)
    post = await _observe(incident, signals, sensors=sensors, settings=settings, snapshot=snapshot)
    observed = post is not None and (
        not post.sensors or any(r.status in ("ok", "empty") for r in post.sensors)
    )
    async with transaction(sessions) as session:
        decision = await repository.get(session, token, for_update=True)
        assert decision is not None
        signals = await incidents.list_signals(session, decision.incident_id)
        alerts_resolved = bool(signals) and all(s.status == "resolved" for s in signals)
        verdict, score, details = judge(
            pre=pre, post=post, alerts_resolved=alerts_resolved,
            target=ready_package(decision).target_key(), observed=observed,
        )
        executions = list(await repository.executions(session, token))
        shadow = all(e.executor == "shadow" for e in executions)
        details["executor"] = executions[0].executor if executions else None
        session.add(Verification(
            decision_token=token, verdict=verdict, score=score, details=details,
            at=datetime.now(UTC),
        ))
        await audit.append(
            session, kind="verification.recorded",
            payload={"verdict": verdict, "score": score, **details},
            incident_id=decision.incident_id, decision_token=token,
        )
        rollback_token = None
        if score < 0.5 and executions and not shadow:
            rollback_token = await _propose_rollback(
                session, decision, executions[0].pre_state, settings=settings
            )
        final = "completed" if verdict in ("success", "degraded") else "failed"
        if decision.status == "verifying":
            await transition(session, decision, final, payload={"verdict": verdict})
        return VerificationResult(
            verdict=verdict, score=score, details=details, rollback_token=rollback_token
        )


async def _propose_rollback(
    session: AsyncSession, decision: Decision, pre_state: dict[str, Any] | None, *,
    settings: Settings,
) -> str:
    """Open a rollback proposal for a human: never executed without one."""
    action = ready_package(decision).action
    if action is None:
        raise ValueError(f"decision {decision.token}: its package names no action to undo")
    inverse = rollback_action(action, pre_state)
    proposal, _ = await open_decision(
        session, incident_id=decision.incident_id,
        workflow_id=f"{decision.workflow_id}:rollback", parent_token=decision.token,
    )
    package = DecisionPackage(
        status="ready", action=inverse, requires_human_approval=True, risk="medium",
        fault=decision.fault,
        summary=f"rollback proposal for {decision.token}: verification scored under 0.5",
        outcome="rollback_proposal",
    )
    policy = PolicyVerdict(
        auto_execute=False, requires_approvals=1, executable=inverse.type != "escalate",
        reasons=["a rollback proposal always needs a human"],
    )
    await mark_ready(session, proposal, package, policy=policy, settings=settings)
    await audit.append(
        session, kind="verification.rollback_proposed",
        payload={"proposal": proposal.token, "action": inverse.model_dump(mode="json")},
        incident_id=decision.incident_id, decision_token=decision.token,
    )
    return proposal.token
