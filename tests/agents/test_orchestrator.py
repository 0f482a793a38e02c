from __future__ import annotations

import asyncio
from collections.abc import Callable

from warroom.agents.critic import RuleCritic
from warroom.agents.models import (
    Action,
    ActionPlan,
    CandidateAction,
    CriticReport,
    DiagnosisReport,
    ReviewVerdict,
)
from warroom.agents.orchestrator import Backends, run_debate
from warroom.agents.ports import DebateContext
from warroom.agents.reviewer import RuleReviewer
from warroom.agents.solver import RuleSolver

Make = Callable[..., DebateContext]
Diag = Callable[..., DiagnosisReport]


class FixedDiagnostician:
    def __init__(self, report: DiagnosisReport) -> None:
        self.report = report

    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        return self.report


class Raising:
    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        raise RuntimeError("model endpoint unreachable")

    async def critique(self, ctx: DebateContext, d: DiagnosisReport,
                       p: ActionPlan) -> CriticReport:
        raise ValueError("bad JSON from the model")


class Hanging:
    async def review(self, ctx: DebateContext, d: DiagnosisReport,
                     p: ActionPlan) -> ReviewVerdict:
        await asyncio.Event().wait()
        raise AssertionError

    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        await asyncio.Event().wait()
        raise AssertionError


class Stubborn:
    """Swallows cancellation and keeps going until the test lets it: the deadline must hold."""

    def __init__(self) -> None:
        self.released = asyncio.Event()
        self.running = False

    async def diagnose(self, ctx: DebateContext) -> DiagnosisReport:
        self.running = True
        while not self.released.is_set():
            try:
                await self.released.wait()
            except asyncio.CancelledError:
                continue
        self.running = False
        return DiagnosisReport()


class ApproveAll:
    async def review(self, ctx: DebateContext, d: DiagnosisReport,
                     p: ActionPlan) -> ReviewVerdict:
        return ReviewVerdict(vote="approve")

    async def critique(self, ctx: DebateContext, d: DiagnosisReport,
                       p: ActionPlan) -> CriticReport:
        return CriticReport(vote="approve")


class FixedSolver:
    def __init__(self, action: Action) -> None:
        self.action = action

    async def solve(self, ctx: DebateContext, d: DiagnosisReport) -> ActionPlan:
        return ActionPlan(candidates=[CandidateAction(action=self.action, risk="low",
                                                      blast_radius=5)])


def rules(diagnostician: object) -> Backends:
    return Backends(diagnostician=diagnostician, solver=RuleSolver(),  # type: ignore[arg-type]
                    reviewer=RuleReviewer(), critic=RuleCritic())


async def test_full_rule_debate_decides_the_oom_fix(make_ctx: Make, diag: Diag) -> None:
    report = diag(("shop", "checkout", "memory_limit_too_low", 0.9))
    debate = await run_debate(make_ctx(), rules(FixedDiagnostician(report)), agent_deadline=1,
                              debate_deadline=5)
    package = debate.package
    assert package is not None and package.status == "ready"
    assert package.action is not None and package.action.type == "set_resources"
    assert [t.role for t in debate.turns][:2] == ["diagnostician", "solver"]
    assert {t.role for t in debate.turns} == {"diagnostician", "solver", "reviewer", "critic",
                                              "coordinator"}
    assert len(debate.input_hashes) == len(debate.turns) == 5
    assert len(set(debate.input_hashes[:2])) == 2
    assert package.team == "payments-team"


async def test_raising_agents_become_degraded_abstains(make_ctx: Make, diag: Diag) -> None:
    backends = Backends(diagnostician=Raising(), solver=RuleSolver(), reviewer=RuleReviewer(),
                        critic=Raising())  # type: ignore[arg-type]
    debate = await run_debate(make_ctx(), backends, agent_deadline=1, debate_deadline=5)
    turns = {t.role: t for t in debate.turns}
    assert turns["diagnostician"].degraded and turns["diagnostician"].vote == "abstain"
    assert "model endpoint unreachable" in (turns["diagnostician"].error or "")
    assert turns["critic"].degraded and "bad JSON" in (turns["critic"].error or "")
    assert debate.package is not None
    assert debate.package.outcome == "abstain_escalate"
    assert debate.package.action is not None and debate.package.action.type == "escalate"
    assert debate.package.requires_human_approval


# The deadline tests script every agent but the late one, so only the late one can miss a
# deadline however slow the machine; the deadlines stay generous for the same reason.
async def test_late_agent_is_cut_at_its_deadline(make_ctx: Make, diag: Diag) -> None:
    report = diag(("shop", "checkout", "memory_limit_too_low", 0.9))
    action = Action(type="set_resources", target="shop/deployment/checkout",
                    params={"container": "checkout", "memory_limit": "512Mi"})
    backends = Backends(diagnostician=FixedDiagnostician(report), solver=FixedSolver(action),
                        reviewer=Hanging(), critic=ApproveAll())  # type: ignore[arg-type]
    debate = await asyncio.wait_for(run_debate(make_ctx(), backends, agent_deadline=0.5,
                                               debate_deadline=30), 30)
    turns = {t.role: t for t in debate.turns}
    assert turns["reviewer"].degraded and "deadline" in (turns["reviewer"].error or "")
    assert debate.package is not None and debate.package.status == "ready"
    assert debate.package.requires_human_approval  # a missing reviewer means a human checks
    assert debate.package.outcome == "approve_with_human"


async def test_global_deadline_yields_a_timeout_package(make_ctx: Make) -> None:
    debate = await asyncio.wait_for(run_debate(make_ctx(), rules(Hanging()), agent_deadline=30,
                                               debate_deadline=0.5), 30)
    assert debate.package is not None
    assert debate.package.status == "timeout"
    assert debate.package.requires_human_approval
    assert debate.package.action is not None and debate.package.action.type == "escalate"
    assert debate.turns[-1].role == "coordinator" and debate.turns[-1].degraded


async def test_deadline_holds_against_an_agent_that_ignores_cancellation(make_ctx: Make) -> None:
    stubborn = Stubborn()
    backends = Backends(diagnostician=stubborn, solver=FixedSolver(Action(type="escalate")),
                        reviewer=ApproveAll(), critic=ApproveAll())  # type: ignore[arg-type]
    debate = await asyncio.wait_for(run_debate(make_ctx(), backends, agent_deadline=0.5,
                                               debate_deadline=30), 30)
    assert stubborn.running  # the debate went on without waiting for it
    stubborn.released.set()
    assert debate.turns[0].degraded
    assert debate.package is not None and debate.package.outcome == "abstain_escalate"


async def test_hard_rule_breach_rejected_whatever_the_other_votes(make_ctx: Make,
                                                                  diag: Diag) -> None:
    report = diag(("db", "orders-db", "database_saturation", 0.95))
    for action in (Action(type="rollout_restart", target="db/statefulset/orders-db"),
                   Action(type="scale", target="shop/deployment/checkout",
                          params={"replicas": 0}),
                   Action(type="rollout_restart", target="shop/namespace/shop")):
        critic = ApproveAll()
        backends = Backends(diagnostician=FixedDiagnostician(report),
                            solver=FixedSolver(action), reviewer=RuleReviewer(),
                            critic=critic)
        debate = await run_debate(make_ctx(), backends, agent_deadline=1, debate_deadline=5)
        turns = {t.role: t for t in debate.turns}
        assert turns["critic"].vote == "approve"
        assert turns["reviewer"].vote == "reject"
        package = debate.package
        assert package is not None and package.status == "blocked"
        assert package.outcome == "reject_escalate"
        assert package.action is not None and package.action.type == "escalate"


async def test_unexpected_error_gives_a_failed_package(make_ctx: Make, diag: Diag) -> None:
    class BrokenPlan:
        async def solve(self, ctx: DebateContext, d: DiagnosisReport) -> ActionPlan:
            plan = ActionPlan()
            plan.candidates = [None]  # type: ignore[list-item]  # breaks the Coordinator
            return plan

    report = diag(("shop", "checkout", "bad_deploy", 0.9))
    backends = Backends(diagnostician=FixedDiagnostician(report), solver=BrokenPlan(),
                        reviewer=ApproveAll(), critic=ApproveAll())  # type: ignore[arg-type]
    debate = await run_debate(make_ctx(), backends, agent_deadline=1, debate_deadline=5)
    assert debate.package is not None and debate.package.status == "failed"
    assert debate.package.requires_human_approval


async def test_an_objected_plan_is_revised_to_the_next_fix_for_a_human(make_ctx: Make,
                                                                       diag: Diag) -> None:
    # learned trust puts scaling first here (raising the limit has failed before)
    ctx = make_ctx(playbook_trust={"cpu_saturation/set_resources": 0.0,
                                   "cpu_saturation/scale": 1.0})
    ctx.evidence.objects.append({"kind": "ResourceQuota",
                                 "metadata": {"namespace": "web", "name": "pods"},
                                 "status": {"hard": {"pods": "10"}, "used": {"pods": "9"}}})
    report = diag(("web", "frontend", "cpu_saturation", 0.95))
    debate = await run_debate(ctx, rules(FixedDiagnostician(report)), agent_deadline=1,
                              debate_deadline=5)
    roles = [t.role for t in debate.turns]
    # scale and set_hpa both need pods the quota has not got; raising the cpu limit does not
    assert roles.count("critic") == 3 and roles.count("reviewer") == 3
    package = debate.package
    assert package is not None and package.status == "ready"
    assert package.action is not None and package.action.type == "set_resources"
    assert package.outcome == "revise_human" and package.requires_human_approval


async def test_no_revision_after_a_hard_rule_breach(make_ctx: Make, diag: Diag) -> None:
    class TwoChoices:
        async def solve(self, ctx: DebateContext, d: DiagnosisReport) -> ActionPlan:
            return ActionPlan(candidates=[
                CandidateAction(action=Action(type="scale", target="shop/deployment/checkout",
                                              params={"replicas": 0})),
                CandidateAction(action=Action(type="rollout_restart",
                                              target="shop/deployment/checkout"))])

    backends = Backends(diagnostician=FixedDiagnostician(diag(
        ("shop", "checkout", "memory_leak", 0.9))), solver=TwoChoices(),
        reviewer=RuleReviewer(), critic=RuleCritic())
    debate = await run_debate(make_ctx(), backends, agent_deadline=1, debate_deadline=5)
    assert [t.role for t in debate.turns].count("reviewer") == 1
    assert debate.package is not None and debate.package.outcome == "reject_escalate"


async def test_when_every_revision_fails_the_first_verdict_stands(make_ctx: Make,
                                                                   diag: Diag) -> None:
    ctx = make_ctx()
    ctx.evidence.objects.append({"kind": "ResourceQuota",
                                 "metadata": {"namespace": "web", "name": "pods"},
                                 "status": {"hard": {"pods": "10"}, "used": {"pods": "10"}}})
    for obj in ctx.evidence.objects:  # no cpu limit: no set_resources to fall back on
        if obj["metadata"].get("name") == "frontend" and obj["kind"] == "Deployment":
            del obj["spec"]["template"]["spec"]["containers"][0]["resources"]
    report = diag(("web", "frontend", "cpu_saturation", 0.95))
    debate = await run_debate(ctx, rules(FixedDiagnostician(report)), agent_deadline=1,
                              debate_deadline=5)
    assert [t.role for t in debate.turns].count("critic") == 2
    package = debate.package
    assert package is not None and package.outcome == "reject_escalate"
    assert "scale web/deployment/frontend" in (package.blocked_reason or "")
    assert debate.plan.candidates[0].action.type == "scale"


async def test_changing_a_caller_for_its_callees_fault_escalates_with_a_reason(
        make_ctx: Make, diag: Diag) -> None:
    # frontend calls checkout; checkout is the top root cause, frontend a close runner-up
    report = diag(("shop", "checkout", "cpu_saturation", 0.9),
                  ("web", "frontend", "cpu_saturation", 0.85))
    backends = Backends(diagnostician=FixedDiagnostician(report),
                        solver=FixedSolver(Action(type="scale", target="web/deployment/frontend",
                                                  params={"replicas": 6})),
                        reviewer=RuleReviewer(), critic=ApproveAll())
    debate = await run_debate(make_ctx(), backends, agent_deadline=1, debate_deadline=5)
    assert [v.rule for v in debate.review.violations] == ["caller_for_callee"]
    package = debate.package
    assert package is not None and package.status == "blocked"
    assert package.outcome == "reject_escalate" and package.requires_human_approval
    assert package.action is not None and package.action.type == "escalate"
    assert "frontend, which calls shop/checkout, the top-ranked root cause" in (
        package.blocked_reason or "")
    assert [t.role for t in debate.turns].count("reviewer") == 1  # no second try


async def test_the_rule_debate_hands_an_unsure_localisation_to_a_human(
        make_ctx: Make, diag: Diag) -> None:
    # the rule Solver proposes scaling checkout; with the place this unsure nothing changes
    report = diag(("shop", "checkout", "cpu_saturation", 0.55))
    debate = await run_debate(make_ctx(), rules(FixedDiagnostician(report)), agent_deadline=1,
                              debate_deadline=5)
    assert debate.plan.candidates[0].action.type != "escalate"
    package = debate.package
    assert package is not None and package.action is not None
    assert package.action.type == "escalate" and package.outcome == "reject_escalate"
    assert "confidence 0.55, under 0.6" in (package.blocked_reason or "")
    sure = await run_debate(make_ctx(), rules(FixedDiagnostician(
        diag(("shop", "checkout", "cpu_saturation", 0.9)))), agent_deadline=1, debate_deadline=5)
    assert sure.package is not None and sure.package.action is not None
    assert sure.package.action.type != "escalate" and not sure.review.violations
