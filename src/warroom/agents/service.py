"""Analyse an incident: sense, sanitize, persist the snapshot, debate, audit every turn.

`analyze_incident` is the one entry point live traffic and replay share. It never raises:
whatever goes wrong ends in a `failed` (or `timeout`) package that asks for a human.
The caller owns the transaction and commits.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.agents import recording, repository
from warroom.agents.events import EventBus
from warroom.agents.llm.ports import LanguageModels, ModelRun
from warroom.agents.models import (
    ActionPlan,
    AgentTurn,
    CriticReport,
    DecisionPackage,
    DiagnosisReport,
    ModelTurn,
    ReviewVerdict,
)
from warroom.agents.orchestrator import Backends, Debate, digest, run_debate
from warroom.agents.ports import DebateContext
from warroom.agents.summary import rule_summary
from warroom.config import Settings
from warroom.domain.models import human_must_decide
from warroom.ingest import repository as incidents
from warroom.safety.sanitize import clean_text, sanitize_snapshot
from warroom.sensors.models import EvidenceSnapshot
from warroom.sensors.ports import Sensor
from warroom.sensors.scope import build_request
from warroom.sensors.service import select_sensors, take_snapshot
from warroom.store.audit import NewEvent, append_many, list_events
from warroom.store.db import DATABASE_TROUBLE
from warroom.store.tables import EvidenceSnapshotRow
from warroom.store.times import utc

TURN_KIND = "agent.turn"
PACKAGE_KIND = "debate.package"
SUMMARY_KIND = "incident.summary"
# session -> the learned playbook trust, "fault/action_type" -> 0..1 (warroom.learn's, handed in
# by the workflow runtime: learn sits above the debate)
TrustReader = Callable[[AsyncSession], Awaitable[dict[str, float]]]


class DebateResult(BaseModel):
    """Everything one analysis produced, as `warroom replay` and the API show it."""

    session_id: str
    incident_id: str
    package: DecisionPackage
    diagnosis: DiagnosisReport = DiagnosisReport()
    plan: ActionPlan = ActionPlan()
    review: ReviewVerdict = ReviewVerdict(vote="abstain")
    critique: CriticReport = CriticReport(vote="abstain")
    turns: list[AgentTurn] = []
    snapshot: EvidenceSnapshot
    snapshot_id: str | None = None
    latency_ms: float = 0.0
    summary: str = ""  # the incident summary for people: a model's, or the rule template's
    # the playbook trust the debate read, for the policy to judge the package by the same
    # figures (read once per round); None when the analysis failed before reading it
    playbook_trust: dict[str, float] | None = Field(default=None, exclude=True)


def snapshot_json(snapshot: EvidenceSnapshot) -> dict[str, Any]:
    """Return the snapshot as JSON-ready data, fast: the bulky parts are plain data already."""
    data = snapshot.model_dump(mode="json", exclude={"series", "objects"})
    # JSON writes tuples as arrays: the samples need no copy
    data["series"] = [{"metric": s.metric, "values": s.values} for s in snapshot.series]
    data["objects"] = snapshot.objects
    return data


def _failed(session_id: str, incident_id: str, now: datetime, why: str,
            snapshot: EvidenceSnapshot | None = None) -> DebateResult:
    package = human_must_decide(why, "failed", outcome="failed")
    turn = AgentTurn(role="coordinator", vote="abstain", degraded=True, error=why,
                     output=package.model_dump(mode="json"))
    return DebateResult(session_id=session_id, incident_id=incident_id, package=package,
                        turns=[turn], snapshot=snapshot or EvidenceSnapshot(
                            incident_id=incident_id, now=now))


async def analyze_incident(session: AsyncSession, incident_id: str, *, settings: Settings,
                           sensors: list[Sensor], trust: TrustReader,
                           models: LanguageModels, now: datetime | None = None,
                           backends: Backends | None = None,
                           bus: EventBus | None = None, live: bool = True) -> DebateResult:
    """Sense, sanitize, persist the snapshot, debate and audit; raises only when the database
    fails (`DATABASE_TROUBLE`: the session is finished, and a package written beside a lost
    read would not be the debate's).

    `trust` reads the learned playbook trust the debate weighs its candidates by (read once,
    and handed back on the result for the policy). `models` opens the language models the
    settings choose (`warroom.llm.debate`) unless `backends` are given, and records their turns.
    `live`: the sensors are the cluster's, so a model's investigation tools may ask them again;
    a replay passes False and its tools read the recorded snapshot.

    Turns and the package are published to `bus` when one is given: the process's bus, built
    by the composition root (the dashboard's stream, and Redis Streams when `redis_url` is set).
    """
    started = time.perf_counter()
    session_id = uuid.uuid4().hex
    now = utc(now) if now is not None else datetime.now(UTC)
    try:
        result = await _analyze(session, incident_id, session_id=session_id, settings=settings,
                                sensors=sensors, trust=trust, models=models, now=now,
                                backends=backends, live=live)
    except DATABASE_TROUBLE:  # its session is finished: the caller's step runs it again
        raise
    except Exception as exc:  # the promise to the caller: a package, never an exception
        result = _failed(session_id, incident_id, now,
                         f"analysis failed: {type(exc).__name__}: {exc}"[:500])
        try:
            async with session.begin_nested():
                await _audit(session, result, [""])
        except DATABASE_TROUBLE:
            raise
        except Exception:  # rolled back to its savepoint: the package still stands
            pass
    result.latency_ms = round((time.perf_counter() - started) * 1000, 3)
    if bus is not None:
        await _publish(bus, result)
    return result


async def _analyze(session: AsyncSession, incident_id: str, *, session_id: str,
                   settings: Settings, sensors: list[Sensor], trust: TrustReader,
                   models: LanguageModels, now: datetime, backends: Backends | None,
                   live: bool) -> DebateResult:
    incident = await incidents.get_incident(session, incident_id)
    if incident is None:
        return _failed(session_id, incident_id, now, f"incident {incident_id} not found")
    signals = await incidents.list_signals(session, incident_id)
    request = build_request(incident, signals, now=now,
                            lookback_seconds=settings.evidence_lookback_seconds)
    chosen = select_sensors(sensors, request)
    raw = await take_snapshot(request, chosen, timeout=settings.sensor_timeout_seconds)
    snapshot = sanitize_snapshot(raw)
    data = snapshot_json(snapshot)
    row = EvidenceSnapshotRow(id=str(uuid.uuid4()), incident_id=incident_id, taken_at=now,
                              data=data)
    learned = await trust(session)
    ctx = DebateContext(
        session_id=session_id, incident_id=incident_id, namespace=incident.namespace,
        service=incident.service, priority=incident.priority, title=clean_text(incident.title, 300),
        evidence=snapshot, service_teams=settings.service_teams,
        critical_namespaces=settings.critical_namespaces,
        playbook_trust=learned)
    context_hash = digest(ctx.model_dump(mode="json", exclude={"evidence"}), data)
    run = None
    if backends is None:
        run = models.open(session, settings)
        backends = run.backends
        if live:
            run.investigate_live(chosen)
    debate_started = time.monotonic()
    debate: Debate = await run_debate(
        ctx, backends, agent_deadline=settings.agent_deadline_seconds,
        debate_deadline=settings.debate_deadline_seconds, input_hash=context_hash)
    assert debate.package is not None
    summary = await _summary(ctx, debate, run, settings, debate_started)
    result = DebateResult(
        session_id=session_id, incident_id=incident_id, package=debate.package,
        diagnosis=debate.diagnosis, plan=debate.plan, review=debate.review,
        critique=debate.critique, turns=debate.turns, snapshot=snapshot, snapshot_id=row.id,
        playbook_trust=learned)
    # write only now: on SQLite the first write takes the database's one write lock until the
    # commit, and ingestion must not wait for a debate (a language model may take seconds)
    session.add(row)
    text, source, summary_turn = summary
    result.summary = text
    # turns, package and summary extend the chain in one statement
    await _audit(session, result, debate.input_hashes, NewEvent(
        kind=SUMMARY_KIND, incident_id=incident_id, session_id=session_id,
        payload={"session_id": session_id, "incident_id": incident_id, "summary": text,
                 "source": source, "model": summary_turn.model_dump(mode="json")
                 if summary_turn else None}))
    model_turns: list[tuple[str, ModelTurn]] = [
        (t.role, t.model) for t in result.turns if t.model is not None]
    if summary_turn is not None:
        model_turns.append(("summary", summary_turn))
    if model_turns:
        await models.save_turns(session, incident_id=incident_id, session_id=session_id,
                                turns=model_turns)
    if run is not None:
        await run.finish(session)
    return result


async def _summary(ctx: DebateContext, debate: Debate, run: ModelRun | None,
                   settings: Settings, started: float) -> tuple[str, str, Any]:
    """Write the human summary in what the debate left of its deadline; never raises."""
    assert debate.package is not None
    if run is None:  # backends handed in: no model writes the summary
        return rule_summary(ctx, debate.package), "rules", None
    token = recording.DEBATE.set(recording.DebateScope(
        deadline_at=started + settings.debate_deadline_seconds, tripped=debate.tripped))
    try:
        return await run.summarize(ctx, debate.package)
    except Exception:  # a summary is a courtesy: the template stands
        return rule_summary(ctx, debate.package), "rules", None
    finally:
        recording.DEBATE.reset(token)


async def _audit(session: AsyncSession, result: DebateResult, hashes: list[str],
                 *after: NewEvent) -> None:
    events = [NewEvent(
        kind=TURN_KIND, incident_id=result.incident_id, session_id=result.session_id,
        payload={"session_id": result.session_id, "incident_id": result.incident_id,
                 "role": turn.role, "input_hash": hashes[i] if i < len(hashes) else "",
                 "output": turn.output, "latency_ms": turn.latency_ms, "vote": turn.vote,
                 "degraded": turn.degraded, "error": turn.error, "backend": turn.backend,
                 "model": turn.model.model_dump(mode="json") if turn.model else None})
        for i, turn in enumerate(result.turns)]
    events.append(NewEvent(
        kind=PACKAGE_KIND, incident_id=result.incident_id, session_id=result.session_id,
        payload={"session_id": result.session_id, "incident_id": result.incident_id,
                 "snapshot_id": result.snapshot_id,
                 "package": result.package.model_dump(mode="json")}))
    await append_many(session, [*events, *after])


async def _publish(bus: EventBus, result: DebateResult) -> None:
    try:
        for turn in result.turns:
            await bus.publish(TURN_KIND, {"session_id": result.session_id,
                                          "incident_id": result.incident_id,
                                          **turn.model_dump(mode="json", exclude={"output"})})
        await bus.publish(PACKAGE_KIND, {"session_id": result.session_id,
                                         "incident_id": result.incident_id,
                                         "package": result.package.model_dump(mode="json")})
    except Exception:  # the feed is best effort
        pass


async def incident_detail(session: AsyncSession, incident_id: str, *,
                          models: LanguageModels) -> dict[str, Any]:
    """Return the evidence summary, the latest debate's turns and its package for the API."""
    row = await repository.latest_snapshot(session, incident_id)
    out: dict[str, Any] = {"evidence": None, "debate": None}
    if row is not None:
        data = row.data or {}
        out["evidence"] = {
            "snapshot_id": row.id, "taken_at": row.taken_at.isoformat(),
            "sensors": data.get("sensors", []),
            "counts": {k: len(data.get(k) or []) for k in (
                "series", "objects", "logs", "topology", "changes", "documents", "similar")},
            "alerts": data.get("alerts", []), "changes": data.get("changes", [])[:20],
        }
    events = await list_events(session, incident_id=incident_id)
    packages = [e for e in events if e.kind == PACKAGE_KIND]
    if packages:
        latest = max(packages, key=lambda e: e.seq)
        turns = [e.payload for e in sorted(events, key=lambda e: e.seq)
                 if e.kind == TURN_KIND and e.session_id == latest.session_id]
        out["debate"] = {"session_id": latest.session_id, "turns": turns,
                         "package": latest.payload.get("package")}
    summaries = [e for e in events if e.kind == SUMMARY_KIND]
    if summaries:
        latest_summary = max(summaries, key=lambda e: e.seq).payload
        out["summary"] = {"text": latest_summary.get("summary", ""),
                          "source": latest_summary.get("source", "rules")}
    # language-model turns of every analysis of the incident: tokens, cost, cache hits
    out["llm"] = await models.usage(session, incident_id)
    return out
