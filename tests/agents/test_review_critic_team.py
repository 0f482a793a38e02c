from __future__ import annotations

from collections.abc import Callable

from warroom.agents.critic import critique
from warroom.agents.models import (
    Action,
    ActionPlan,
    CandidateAction,
    DiagnosisReport,
)
from warroom.agents.ports import DebateContext
from warroom.agents.reviewer import review
from warroom.agents.solver import solve
from warroom.agents.team import responsible_team
from warroom.sensors.models import SensorRun

Make = Callable[..., DebateContext]
Diag = Callable[..., DiagnosisReport]


def plan_of(action: Action, blast: int = 5) -> ActionPlan:
    return ActionPlan(candidates=[CandidateAction(action=action, blast_radius=blast)])


def test_reviewer_blast_thresholds(make_ctx: Make, diag: Diag) -> None:
    ctx, d = make_ctx(), diag(("shop", "checkout", "memory_leak", 0.9))
    action = Action(type="rollout_restart", target="shop/deployment/checkout")
    assert review(ctx, d, plan_of(action, 10)).vote == "approve"
    assert review(ctx, d, plan_of(action, 60)).vote == "request_revision"
    assert review(ctx, d, plan_of(action, 90)).vote == "reject"


def test_reviewer_rejects_a_bystander(make_ctx: Make, diag: Diag) -> None:
    verdict = review(make_ctx(), diag(("shop", "checkout", "memory_leak", 0.9)),
                     plan_of(Action(type="rollout_restart", target="web/deployment/frontend")))
    assert verdict.vote == "reject"
    # frontend calls checkout: changing it for checkout's fault is also a caller-for-callee
    assert [v.rule for v in verdict.violations] == ["bystander", "caller_for_callee"]


def test_reviewer_recomputes_blast_instead_of_trusting_the_solver(make_ctx: Make,
                                                                  diag: Diag) -> None:
    ctx = make_ctx(critical_namespaces=["db"])
    d = diag(("", "w1", "node_failure", 0.9))
    # the Solver claims 0; draining a node is never that cheap
    verdict = review(ctx, d, plan_of(Action(type="cordon_node", target="/node/w1"), 0))
    assert verdict.blast_radius > 0


def test_critic_answers_the_three_questions(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx()
    ctx.evidence.sensors.append(SensorRun(sensor="logs", status="timeout",
                                          error="no answer within 5s"))
    d = diag(("shop", "checkout", "memory_leak", 0.8), ("shop", "cart", "cpu_saturation", 0.7))
    report = critique(ctx, d, solve(ctx, d))
    questions = {c.question for c in report.challenges}
    assert questions == {"alternative", "missing_evidence", "breakage"}
    assert any("logs timeout" in c.text for c in report.challenges)
    assert any(c.question == "alternative" and c.severity == "warning"
               for c in report.challenges)
    assert report.vote == "approve"


def test_critic_rejects_a_coin_toss_and_acting_blind(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx()
    d = diag(("shop", "checkout", "memory_leak", 0.7), ("shop", "cart", "memory_leak", 0.7))
    assert critique(ctx, d, solve(ctx, d)).vote == "reject"
    ghost = plan_of(Action(type="rollout_restart", target="shop/deployment/ghost"))
    report = critique(ctx, diag(("shop", "ghost", "memory_leak", 0.9)), ghost)
    assert report.vote == "reject"
    assert any("acting blind" in c.text for c in report.challenges)


def test_critic_warns_when_a_deployment_is_known_only_by_its_pods(make_ctx: Make,
                                                                   diag: Diag) -> None:
    ctx = make_ctx()
    ctx.evidence.objects.append({"kind": "Pod", "metadata": {
        "namespace": "shop", "name": "ghost-6958c5bdd8-69gtn"}, "spec": {"containers": []}})
    ghost = plan_of(Action(type="rollout_restart", target="shop/deployment/ghost"))
    report = critique(ctx, diag(("shop", "ghost", "memory_leak", 0.9)), ghost)
    assert report.vote == "approve"
    assert any(c.severity == "warning" and "known only by the pods" in c.text
               for c in report.challenges)


def test_critic_rejects_a_limit_no_node_can_fit(make_ctx: Make, diag: Diag) -> None:
    action = Action(type="set_resources", target="shop/deployment/checkout",
                    params={"container": "checkout", "limits": {"memory": "64Gi"}})
    report = critique(make_ctx(), diag(("shop", "checkout", "memory_limit_too_low", 0.9)),
                      plan_of(action))
    assert report.vote == "reject"


def test_team_from_label_then_map_then_fault_class(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx(service_teams={"shop/cart": "cart-team"})
    assert responsible_team(ctx, diag(("shop", "checkout", "bad_deploy", 0.9))) == \
        "payments-team"
    assert responsible_team(ctx, diag(("shop", "cart", "bad_deploy", 0.9))) == "cart-team"
    assert responsible_team(ctx, diag(("web", "frontend", "bad_deploy", 0.9))) == "FE"
    assert responsible_team(ctx, diag(("db", "orders-db", "database_saturation", 0.9))) == "DB"
    assert responsible_team(ctx, diag(("", "w2", "node_failure", 0.9))) == "INFRA"
    assert responsible_team(ctx, diag(("shop", "checkout", "bad_deploy", 0.6))) == "COLLAB"
    two_teams = diag(("shop", "checkout", "bad_deploy", 0.8), ("shop", "cart", "bad_deploy", 0.75))
    assert responsible_team(ctx, two_teams) == "COLLAB"


def test_critic_names_absent_signals(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx()
    d = diag(("shop", "checkout", "memory_limit_too_low", 0.9))
    texts = [c.text for c in critique(ctx, d, solve(ctx, d)).challenges
             if c.question == "missing_evidence"]
    assert any("no logs from checkout's 2 pod(s)" in t for t in texts)


def test_critic_rejects_cordoning_a_healthy_node(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx()
    healthy = critique(ctx, diag(("", "w1", "node_failure", 0.9)),
                       plan_of(Action(type="cordon_node", target="/node/w1")))
    assert healthy.vote == "reject"
    failed = critique(ctx, diag(("", "w2", "node_failure", 0.9)),
                      plan_of(Action(type="cordon_node", target="/node/w2")))
    assert failed.vote == "approve"


def test_critic_rejects_scaling_past_the_namespace_quota(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx()
    ctx.evidence.objects.append({"kind": "ResourceQuota",
                                 "metadata": {"namespace": "web", "name": "pods"},
                                 "status": {"hard": {"pods": "10"}, "used": {"pods": "9"}}})
    d = diag(("web", "frontend", "cpu_saturation", 0.9))
    scale = plan_of(Action(type="scale", target="web/deployment/frontend",
                           params={"replicas": 6}))
    report = critique(ctx, d, scale)
    assert report.vote == "reject"
    assert any("ResourceQuota" in c.text for c in report.challenges)
    one_more = plan_of(Action(type="scale", target="web/deployment/frontend",
                              params={"replicas": 5}))
    assert critique(ctx, d, one_more).vote == "approve"
