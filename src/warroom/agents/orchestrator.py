"""The debate: Diagnostician → Solver → (Reviewer ‖ Critic) → Coordinator.

Every agent runs under its own deadline; one that is late or raises becomes a degraded,
abstaining turn and the debate goes on. The whole debate runs under a global deadline (the
package then says `timeout`, a human decides), and any unexpected error yields a `failed`
package. `run_debate` never raises and never hangs.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from warroom.agents import recording
from warroom.agents.coordinator import Degraded, decide
from warroom.agents.critic import RuleCritic
from warroom.agents.diagnostician.rules import RuleDiagnostician
from warroom.agents.models import (
    MODEL_FELL_BACK,
    ActionPlan,
    AgentTurn,
    CriticReport,
    DecisionPackage,
    DecisionStatus,
    DiagnosisReport,
    ReviewVerdict,
    Role,
    Vote,
)
from warroom.agents.ports import Critic, DebateContext, Diagnostician, Reviewer, Solver
from warroom.agents.reviewer import RuleReviewer
from warroom.agents.solver import RuleSolver
from warroom.agents.team import responsible_team
from warroom.domain.models import human_must_decide
from warroom.observe.metrics import AGENT_SECONDS
from warroom.observe.tracing import span
from warroom.sensors.service import bounded

T = TypeVar("T", bound=BaseModel)
MAX_REVISIONS = 2  # after the first plan is objected to, try at most this many alternatives


@dataclass
class Backends:
    """One implementation per role; a rule backend and a model backend are interchangeable."""

    diagnostician: Diagnostician
    solver: Solver
    reviewer: Reviewer
    critic: Critic


def rule_backends() -> Backends:
    """Return the deterministic rule backends (no model, no network)."""
    return Backends(diagnostician=RuleDiagnostician(), solver=RuleSolver(),
                    reviewer=RuleReviewer(), critic=RuleCritic())


@dataclass
class Debate:
    """What a debate produced; filled in as it goes, so a timeout keeps the finished turns."""

    package: DecisionPackage | None = None
    diagnosis: DiagnosisReport = field(default_factory=DiagnosisReport)
    plan: ActionPlan = field(default_factory=ActionPlan)
    review: ReviewVerdict = field(default_factory=lambda: ReviewVerdict(vote="abstain"))
    critique: CriticReport = field(default_factory=lambda: CriticReport(vote="abstain"))
    turns: list[AgentTurn] = field(default_factory=list)
    input_hashes: list[str] = field(default_factory=list)  # one per turn, same order
    # provider chains that hung or failed during the debate -> why (not asked again after it)
    tripped: dict[str, str] = field(default_factory=dict)


def digest(*parts: Any) -> str:
    """Hash the JSON of an agent's inputs, so the audit trail can prove what it saw."""
    h = hashlib.sha256()
    for part in parts:
        data = part.model_dump(mode="json") if isinstance(part, BaseModel) else part
        h.update(orjson.dumps(data, option=orjson.OPT_SORT_KEYS, default=str))
    return h.hexdigest()


def _vote_of(role: Role, output: BaseModel) -> Vote:
    if isinstance(output, DiagnosisReport):
        return "abstain" if output.abstain or not output.hypotheses else "approve"
    if isinstance(output, ActionPlan):
        return "approve" if output.candidates else "abstain"
    vote = getattr(output, "vote", "abstain")
    for known in ("approve", "request_revision", "reject", "abstain"):
        if vote == known:
            return known
    return "abstain"


async def _turn(debate: Debate, role: Role, call: Callable[[], Awaitable[T]], fallback: T,
                expected: type[T], deadline: float, input_hash: str) -> tuple[T, bool]:
    started = time.perf_counter()
    error: str | None = None
    output: T = fallback
    scope = recording.TurnScope(deadline_at=time.monotonic() + deadline)
    token = recording.TURN.set(scope)
    with span(f"warroom.agent.{role}", role=role) as current:
        try:
            result = await bounded(call(), deadline)
            if isinstance(result, expected):
                output = result
            else:
                error = f"returned {type(result).__name__}, expected {expected.__name__}"
        except TimeoutError:
            error = f"missed its {deadline:g}s deadline"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an agent's failure degrades it, never the debate
            error = f"{type(exc).__name__}: {exc}"[:1000]
        finally:
            recording.TURN.reset(token)
        current.set_attribute("degraded", error is not None)
    abstained = error is not None
    model = scope.model
    # a model that failed or was late degrades the agent to its rule answer, visibly; the rule
    # answer is a full vote, so the Coordinator counts only abstentions as degraded
    fell_back = model is not None and model.status in MODEL_FELL_BACK
    if fell_back and error is None and model is not None:
        error = f"model {model.status}: {model.reason}; the rule answer stands"[:1000]
    turn = AgentTurn(
        role=role, vote="abstain" if abstained else _vote_of(role, output),
        degraded=abstained or fell_back,
        latency_ms=round((time.perf_counter() - started) * 1000, 3), error=error,
        output=None if abstained else output.model_dump(mode="json"),
        backend=scope.backend, model=model)
    debate.turns.append(turn)
    debate.input_hashes.append(input_hash)
    return output, abstained


async def _debate(ctx: DebateContext, backends: Backends, agent_deadline: float,
                  debate: Debate, ctx_hash: str) -> None:
    debate.diagnosis, d_bad = await _turn(
        debate, "diagnostician", lambda: backends.diagnostician.diagnose(ctx),
        DiagnosisReport(abstain=True, summary="the Diagnostician did not answer"),
        DiagnosisReport, agent_deadline, ctx_hash)
    diagnosis = debate.diagnosis
    diag_hash = digest(ctx_hash, diagnosis)
    debate.plan, s_bad = await _turn(
        debate, "solver", lambda: backends.solver.solve(ctx, diagnosis), ActionPlan(),
        ActionPlan, agent_deadline, diag_hash)
    plan = debate.plan
    plan_hash = digest(diag_hash, plan)
    r_bad, c_bad = await _judge(ctx, backends, agent_deadline, debate, plan, plan_hash)
    revised = False
    first = (debate.plan, debate.review, debate.critique)
    for _ in range(MAX_REVISIONS):
        alternative = _revision(debate)
        if alternative is None or r_bad or c_bad:
            break
        # a revision round: the Solver's next candidate, judged afresh by both
        debate.plan = alternative
        r_bad, c_bad = await _judge(ctx, backends, agent_deadline, debate, alternative,
                                    digest(plan_hash, alternative))
        if not (_objected(debate) or r_bad or c_bad):
            revised = True
            plan, plan_hash = alternative, digest(plan_hash, alternative)
            break
    if not revised:  # the first round stands; every round stays in the turns
        r_bad = r_bad and debate.plan is plan
        c_bad = c_bad and debate.plan is plan
        debate.plan, debate.review, debate.critique = first
    degraded = Degraded(diagnostician=d_bad, solver=s_bad, reviewer=r_bad, critic=c_bad)
    started = time.perf_counter()
    package = decide(ctx, diagnosis, plan, debate.review, debate.critique, degraded,
                     revised=revised)
    debate.package = package
    debate.turns.append(AgentTurn(
        role="coordinator", vote="approve" if package.status == "ready" else "reject",
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        output=package.model_dump(mode="json")))
    debate.input_hashes.append(digest(plan_hash, debate.review, debate.critique))


async def _judge(ctx: DebateContext, backends: Backends, agent_deadline: float, debate: Debate,
                 plan: ActionPlan, plan_hash: str) -> tuple[bool, bool]:
    """Run the Reviewer and the Critic concurrently on the plan's first candidate."""
    diagnosis = debate.diagnosis
    (debate.review, r_bad), (debate.critique, c_bad) = await asyncio.gather(
        _turn(debate, "reviewer", lambda: backends.reviewer.review(ctx, diagnosis, plan),
              ReviewVerdict(vote="abstain", notes=["the Reviewer did not answer"]),
              ReviewVerdict, agent_deadline, plan_hash),
        _turn(debate, "critic", lambda: backends.critic.critique(ctx, diagnosis, plan),
              CriticReport(vote="abstain"), CriticReport, agent_deadline, plan_hash))
    return r_bad, c_bad


def _objected(debate: Debate) -> bool:
    return debate.review.vote in ("reject", "request_revision") or debate.critique.vote == \
        "reject"


def _revision(debate: Debate) -> ActionPlan | None:
    """Return the plan led by the next fix when the first was judged too wide or too risky.

    Never after a hard-rule violation: a Solver that proposes a forbidden action is not
    trusted with a second try; that debate ends in escalation.
    """
    review, plan = debate.review, debate.plan
    if not _objected(debate) or review.violations or len(plan.candidates) < 2:
        return None
    rest = plan.candidates[1:]
    if rest[0].action.type in ("escalate", "no_action"):
        return None  # nothing left to try but a human
    return plan.model_copy(update={"candidates": rest})


def _human_package(ctx: DebateContext, debate: Debate, status: DecisionStatus, outcome: str,
                   why: str) -> DecisionPackage:
    hyps = debate.diagnosis.hypotheses
    try:
        team = responsible_team(ctx, debate.diagnosis)
    except Exception:
        team = "COLLAB"
    return human_must_decide(why, status, outcome=outcome, team=team, hypotheses=hyps,
                             confident=not debate.diagnosis.abstain,
                             followups=debate.plan.followups)


async def run_debate(ctx: DebateContext, backends: Backends, *, agent_deadline: float,
                     debate_deadline: float, input_hash: str | None = None) -> Debate:
    """Run the five agents and return the debate; never raises, never outlives its deadline.

    `input_hash` is the digest of the context when the caller already has one (it hashed the
    snapshot it stored); otherwise the context is hashed here.
    """
    debate = Debate()
    names = backend_names(backends)
    scope = recording.DebateScope(deadline_at=time.monotonic() + debate_deadline)
    token = recording.DEBATE.set(scope)
    try:
        ctx_hash = input_hash or digest(ctx)
        with span("warroom.debate", incident_id=ctx.incident_id, session_id=ctx.session_id,
                  **{f"backend.{role}": name for role, name in names.items()}):
            await bounded(_debate(ctx, backends, agent_deadline, debate, ctx_hash),
                          debate_deadline)
    except TimeoutError:
        debate.package = _human_package(
            ctx, debate, "timeout", "timeout",
            f"the debate missed its {debate_deadline:g}s deadline after "
            f"{len(debate.turns)} turn(s)")
        debate.turns.append(AgentTurn(role="coordinator", vote="abstain", degraded=True,
                                      error="global deadline", output=debate.package.model_dump(
                                          mode="json")))
        debate.input_hashes.append(digest(ctx.session_id, "timeout"))
    except Exception as exc:  # the promise: a package, whatever happened
        debate.package = _human_package(ctx, debate, "failed", "failed",
                                         f"the debate failed: {type(exc).__name__}: {exc}"[:500])
        debate.turns.append(AgentTurn(role="coordinator", vote="abstain", degraded=True,
                                      error=f"{type(exc).__name__}: {exc}"[:1000],
                                      output=debate.package.model_dump(mode="json")))
        debate.input_hashes.append(digest(ctx.session_id, "failed"))
    finally:
        recording.DEBATE.reset(token)
        debate.tripped = scope.tripped
    for turn in debate.turns:
        AGENT_SECONDS.labels(
            turn.role, turn.backend, "degraded" if turn.degraded else "ok"
        ).observe(turn.latency_ms / 1000)
    return debate


def backend_names(backends: Backends) -> dict[str, str]:
    """Name the implementation behind each role (the `backend` label of agent metrics)."""
    return {
        "diagnostician": type(backends.diagnostician).__name__,
        "solver": type(backends.solver).__name__,
        "reviewer": type(backends.reviewer).__name__,
        "critic": type(backends.critic).__name__,
        "coordinator": "rules",  # the Coordinator is pure rules, always
    }
