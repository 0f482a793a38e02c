"""Seed a database with a long incident history for `warroom bench stats`.

Rows have the shape and size the real pipeline writes (payload sizes measured on a demo run:
agent turns ~0.9 kB, ready events ~0.7 kB, packages ~1.9 kB), with hash-chained audit rows, so
the stats queries read what they would read in production.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from warroom.store.audit import GENESIS_HASH, compute_hash
from warroom.store.tables import (
    Approval,
    AuditEvent,
    ChallengeOutcome,
    Decision,
    Execution,
    Incident,
    LLMTurnRow,
    Signal,
    Verification,
)

ROLES = ("diagnostician", "solver", "reviewer", "critic", "coordinator")
FAULTS = ("bad_deploy", "memory_leak", "traffic_surge", "cpu_saturation", "image_pull_error",
          "memory_limit_too_low", "probe_failure", "database_saturation", "node_failure",
          "application_error")
ACTIONS = ("rollout_undo", "rollout_restart", "scale", "set_resources", "set_hpa", "escalate")
TEAMS = ("BE", "FE", "INFRA", "DB", "COLLAB")
# outcome -> weight: what became of the decisions
OUTCOMES = {"auto_executed": 30, "approved": 35, "rejected": 8, "expired": 5, "escalated": 20,
            "pending": 2}
# model -> (input, output) USD per million tokens; a third of the turns used no model
MODELS = {"gpt-4o-mini": (0.15, 0.6), "claude-3-5-haiku": (0.8, 4.0)}
CHUNK = 5000
FILLER = "evidence " * 80


@dataclass
class Seeded:
    """How many rows of each table were written."""

    start: datetime
    end: datetime
    rows: dict[str, int] = field(default_factory=dict)


@dataclass
class _Batch:
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.tables.setdefault(table, []).append(row)


class _Chain:
    """Hash-chains audit rows exactly as `warroom.store.audit` does."""

    def __init__(self) -> None:
        self.prev = GENESIS_HASH

    def row(self, *, at: datetime, kind: str, payload: dict[str, Any], actor: str = "warroom",
            incident_id: str | None = None, decision_token: str | None = None,
            session_id: str | None = None) -> dict[str, Any]:
        digest = compute_hash(self.prev, at=at, kind=kind, actor=actor, incident_id=incident_id,
                              decision_token=decision_token, session_id=session_id,
                              payload=payload)
        row = {"at": at, "kind": kind, "actor": actor, "incident_id": incident_id,
               "decision_token": decision_token, "session_id": session_id, "payload": payload,
               "prev_hash": self.prev, "hash": digest}
        self.prev = digest
        return row


def _incident(rng: random.Random, n: int, opened: datetime, batch: _Batch,
              chain: _Chain, trust: dict[str, float]) -> None:
    iid = f"inc-{n:08d}"
    ns = f"ns-{rng.randrange(8)}"
    svc = f"svc-{rng.randrange(60):02d}"
    recovery = rng.lognormvariate(6.3, 1.0)
    resolved = opened + timedelta(seconds=recovery) if rng.random() < 0.93 else None
    batch.add("incidents", {
        "id": iid, "group_key": f"{ns}|{svc}|{n}", "status": "resolved" if resolved else "open",
        "priority": rng.choice(("P0", "P1", "P1", "P2", "P2", "P2", "P3")), "namespace": ns,
        "service": svc, "title": f"{svc} is failing", "opened_at": opened,
        "updated_at": resolved or opened, "resolved_at": resolved, "last_signal_at": opened})
    batch.add("signals", {
        "id": f"sig-{n:08d}", "fingerprint": f"fp-{n:08d}", "incident_id": iid,
        "source": "alertmanager", "status": "resolved" if resolved else "firing",
        "alertname": "HighErrorRatio", "severity": "critical",
        "labels": {"service": svc, "namespace": ns, "alertname": "HighErrorRatio"},
        "annotations": {"summary": f"{svc} is failing"}, "starts_at": opened,
        "ends_at": resolved, "generator_url": "", "received_at": opened, "updated_at": opened,
        "receive_count": 1})
    token = f"d_{n:010d}"
    session = f"s-{n:08d}"
    created = opened + timedelta(seconds=rng.uniform(0.5, 5))
    turn_at = created
    degraded_any = False
    for role in ROLES:
        latency = rng.lognormvariate(2.5 if role != "diagnostician" else 4.5, 0.8)
        degraded = rng.random() < 0.01
        degraded_any = degraded_any or degraded
        turn_at += timedelta(milliseconds=latency)
        model = rng.choice((*MODELS, ""))
        if model:
            tokens_in, tokens_out = rng.randrange(800, 6000), rng.randrange(100, 900)
            price_in, price_out = MODELS[model]
            batch.add("llm_turns", {
                "incident_id": iid, "session_id": session, "role": role, "mode": "hybrid",
                "status": "failed" if degraded else "accepted", "reason": "", "model": model,
                "cached": rng.random() < 0.1, "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cost_usd": round((tokens_in * price_in + tokens_out * price_out) / 1e6, 6),
                "latency_ms": round(latency, 3), "at": turn_at})
        batch.add("audit", chain.row(
            at=turn_at, kind="agent.turn", incident_id=iid, session_id=session, payload={
                "session_id": session, "incident_id": iid, "role": role, "input_hash": "0" * 64,
                "output": None if degraded else {"notes": FILLER[:700]},
                "latency_ms": round(latency, 3), "vote": "abstain" if degraded else "approve",
                "degraded": degraded, "error": "missed its 8s deadline" if degraded else None,
                **({"backend": "hybrid"} if model else {})}))
    outcome = rng.choices(list(OUTCOMES), weights=list(OUTCOMES.values()))[0]
    fault = rng.choice(FAULTS)
    action = "escalate" if outcome == "escalated" else rng.choice(ACTIONS[:-1])
    ready = turn_at + timedelta(seconds=rng.uniform(0.1, 3))
    timed_out = rng.random() < 0.01
    status = {"auto_executed": "completed", "approved": "completed", "rejected": "rejected",
              "expired": "expired", "escalated": "completed", "pending": "ready"}[outcome]
    batch.add("decisions", {
        "token": token, "incident_id": iid, "status": status, "fault": fault,
        "action_type": action, "requires_approvals": 1, "parent_token": None,
        "workflow_id": f"incident-{iid}", "created_at": created, "updated_at": ready,
        "ready_at": ready, "expires_at": ready + timedelta(hours=1),
        "package": {"status": "timeout" if timed_out else "ready", "team": rng.choice(TEAMS),
                    "action": {"type": action, "target": f"{ns}/deployment/{svc}"},
                    "fault": fault, "summary": FILLER[:1500], "session_id": session,
                    "policy": {"auto_execute": outcome == "auto_executed",
                               "requires_approvals": 1, "executable": action != "escalate"}}})
    batch.add("audit", chain.row(
        at=ready, kind="decision.ready", incident_id=iid, decision_token=token, payload={
            "from": "analyzing", "package_status": "timeout" if timed_out else "ready",
            "action": {"type": action, "target": f"{ns}/deployment/{svc}"}, "risk": "medium",
            "summary": FILLER[:500]}))
    if outcome in ("auto_executed", "approved", "rejected"):
        via = "policy" if outcome == "auto_executed" else "web"
        batch.add("approvals", {
            "decision_token": token, "approver": "policy" if via == "policy" else "alice",
            "verdict": "reject" if outcome == "rejected" else "approve", "comment": "",
            "via": via, "at": ready + timedelta(seconds=rng.uniform(1, 600))})
    if outcome not in ("auto_executed", "approved"):
        return
    started = ready + timedelta(seconds=rng.uniform(2, 900))
    batch.add("executions", {
        "decision_token": token, "idempotency_key": f"exec-{token}", "executor": "shadow",
        "status": "succeeded", "action": {"type": action}, "request": None, "kubectl": "",
        "pre_state": None, "result": None, "error": None, "started_at": started,
        "finished_at": started + timedelta(seconds=1)})
    verdict = rng.choices(("success", "degraded", "failed"), weights=(80, 12, 8))[0]
    at = started + timedelta(seconds=60)
    batch.add("verifications", {"decision_token": token, "verdict": verdict,
                                "score": {"success": 1.0, "degraded": 0.7, "failed": 0.2}[verdict],
                                "details": {"root_cause_cleared": verdict == "success"}, "at": at})
    batch.add("challenges", {"decision_token": token, "question": "breakage",
                             "severity": "warning", "text": "scaling may starve the node",
                             "proved_right": verdict != "success", "at": at})
    key = f"{fault}/{action}"
    before = trust.get(key, 0.5)
    trust[key] = round(0.8 * before + 0.2 * (1.0 if verdict == "success" else 0.0), 4)
    batch.add("audit", chain.row(
        at=at, kind="learn.updated", incident_id=iid, decision_token=token, payload={
            "playbook": key, "trust_before": before, "trust_after": trust[key],
            "verdict": verdict, "score": 1.0, "failed": verdict != "success", "challenges": []}))


TABLES: dict[str, Any] = {
    "incidents": Incident, "signals": Signal, "decisions": Decision, "approvals": Approval,
    "executions": Execution, "verifications": Verification, "challenges": ChallengeOutcome,
    "audit": AuditEvent, "llm_turns": LLMTurnRow,
}


def _batches(incidents: int, days: float, end: datetime, seed: int) -> Iterator[_Batch]:
    rng = random.Random(seed)
    chain = _Chain()
    trust: dict[str, float] = {}
    step = timedelta(days=days) / incidents
    start = end - timedelta(days=days)
    batch = _Batch()
    for n in range(incidents):
        _incident(rng, n, start + step * n, batch, chain, trust)
        if (n + 1) % CHUNK == 0:
            yield batch
            batch = _Batch()
    if batch.tables:
        yield batch


async def seed(engine: AsyncEngine, *, incidents: int, days: float, end: datetime,
               seed: int = 7, progress: Callable[[int], None] | None = None) -> Seeded:
    """Write `incidents` incidents spread evenly over the `days` before `end`."""
    done = Seeded(start=end - timedelta(days=days), end=end)
    written = 0
    for batch in _batches(incidents, days, end, seed):
        async with engine.begin() as conn:
            for name, model in TABLES.items():  # parents before children
                rows = batch.tables.get(name)
                if rows:
                    await conn.execute(insert(_table(model)), rows)
                    done.rows[name] = done.rows.get(name, 0) + len(rows)
        written += len(batch.tables.get("incidents", []))
        if progress is not None:
            progress(written)
    return done


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table
