"""Playbook trust learned from verified outcomes, and which critic challenges proved right.

A playbook is one (fault class, action type) pair. Its trust starts at 0.5 and follows an
exponentially weighted moving average of outcome scores (the verifier's self-healing score):

    trust <- (1 - a) * trust + a * score

with `a = settings.trust_alpha` for a success and `a = min(1, trust_alpha * trust_failure_weight)`
for a failure (verdict failed or timeout, or a score under 0.5), so one failure costs more trust
than one success earns. The caller commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from warroom.config import Settings
from warroom.decisions.policy import playbook_key
from warroom.learn import repository
from warroom.store import audit
from warroom.store.tables import ChallengeOutcome, Decision, Playbook

INITIAL_TRUST = 0.5


def ewma(trust: float, score: float, *, failed: bool, settings: Settings) -> float:
    """Return the trust after one outcome; failures move it `trust_failure_weight` times faster."""
    alpha = settings.trust_alpha
    if failed:
        alpha = min(1.0, alpha * settings.trust_failure_weight)
    return max(0.0, min(1.0, (1 - alpha) * trust + alpha * score))


async def playbook_trust(session: AsyncSession) -> dict[str, float]:
    """Return every learned playbook's trust as `"fault/action_type" -> trust`."""
    rows = await repository.all_playbooks(session)
    return {playbook_key(p.fault, p.action_type): p.trust for p in rows}


async def list_playbooks(session: AsyncSession) -> list[dict[str, Any]]:
    """Return the playbooks, most trusted first, as `GET /api/v1/playbooks` shows them."""
    rows = await repository.by_trust(session)
    return [
        {
            "key": playbook_key(p.fault, p.action_type),
            "fault": p.fault,
            "action_type": p.action_type,
            "trust": round(p.trust, 4),
            "successes": p.successes,
            "failures": p.failures,
            "updated_at": p.updated_at.isoformat(),
        }
        for p in rows
    ]


def _proved_right(question: str, *, verdict: str, details: dict[str, Any]) -> bool:
    """Judge a critic challenge against what the verifier saw."""
    if question == "breakage":
        return bool(details.get("regressions"))
    if question == "alternative":
        return not details.get("root_cause_cleared", False)
    return verdict != "success"  # missing_evidence: the outcome was not clean


async def learn_outcome(
    session: AsyncSession,
    decision: Decision,
    *,
    verdict: str,
    score: float,
    details: dict[str, Any],
    settings: Settings,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Update the decision's playbook trust and record the critic challenges' outcomes."""
    at = now or datetime.now(UTC)
    challenges = decision.package.challenges if decision.package is not None else []
    recorded = []
    for challenge in challenges:
        right = _proved_right(challenge.question, verdict=verdict, details=details)
        session.add(
            ChallengeOutcome(
                decision_token=decision.token,
                question=challenge.question,
                severity=challenge.severity,
                text=challenge.text,
                proved_right=right,
                at=at,
            )
        )
        recorded.append({"question": challenge.question, "proved_right": right})
    if not decision.fault or not decision.action_type:
        return None
    failed = verdict in ("failed", "timeout") or score < 0.5
    playbook = await repository.get(session, decision.fault, decision.action_type)
    if playbook is None:
        playbook = Playbook(
            fault=decision.fault, action_type=decision.action_type, trust=INITIAL_TRUST,
            successes=0, failures=0, updated_at=at,
        )
        session.add(playbook)
    before = playbook.trust
    playbook.trust = ewma(before, score, failed=failed, settings=settings)
    if failed:
        playbook.failures += 1
    else:
        playbook.successes += 1
    playbook.updated_at = at
    await session.flush()
    update = {
        "playbook": playbook_key(decision.fault, decision.action_type),
        "trust_before": round(before, 4),
        "trust_after": round(playbook.trust, 4),
        "verdict": verdict,
        "score": round(score, 4),
        "failed": failed,
        "challenges": recorded,
    }
    await audit.append(
        session, kind="learn.updated", payload=update,
        incident_id=decision.incident_id, decision_token=decision.token,
    )
    return update
