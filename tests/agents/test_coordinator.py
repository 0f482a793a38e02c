from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from warroom.agents.coordinator import Degraded, decide
from warroom.agents.critic import critique
from warroom.agents.models import (
    Action,
    ActionPlan,
    CandidateAction,
    Challenge,
    CriticReport,
    DecisionPackage,
    DiagnosisReport,
    ReviewVerdict,
)
from warroom.agents.ports import DebateContext
from warroom.agents.reviewer import review
from warroom.agents.solver import solve
from warroom.sensors.models import AlertView

Make = Callable[..., DebateContext]
Diag = Callable[..., DiagnosisReport]


def debate(ctx: DebateContext, d: DiagnosisReport,
           degraded: Degraded | None = None) -> DecisionPackage:
    plan = solve(ctx, d)
    return decide(ctx, d, plan, review(ctx, d, plan), critique(ctx, d, plan), degraded)


def test_auto_eligible_when_all_approve_low_risk_and_confident(make_ctx: Make,
                                                                diag: Diag) -> None:
    ctx = make_ctx()
    package = debate(ctx, diag(("shop", "cart", "traffic_surge", 0.9)))
    assert package.outcome == "approve_auto_eligible", package.summary
    assert package.status == "ready" and not package.requires_human_approval
    assert package.risk == "low"


def test_human_required_fault_always_needs_approval(make_ctx: Make, diag: Diag) -> None:
    package = debate(make_ctx(), diag(("", "w2", "node_failure", 0.95)))
    assert package.action is not None and package.action.type == "cordon_node"
    assert package.outcome == "approve_with_human"
    assert package.requires_human_approval
    assert package.team == "INFRA"


def test_revision_requested_goes_to_a_human(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx(critical_namespaces=["shop"])
    d = diag(("shop", "checkout", "memory_leak", 0.9))
    plan = solve(ctx, d)
    verdict = ReviewVerdict(vote="request_revision", blast_radius=60)
    package = decide(ctx, d, plan, verdict, CriticReport(vote="approve"))
    assert package.outcome == "revise_human" and package.status == "ready"
    assert package.requires_human_approval
    assert package.action == plan.candidates[0].action


def test_critical_challenge_rejects_to_escalation(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx()
    d = diag(("shop", "checkout", "memory_leak", 0.9))
    plan = solve(ctx, d)
    crit = CriticReport(vote="reject", challenges=[Challenge(
        question="breakage", severity="critical", text="it would take the shop down")])
    package = decide(ctx, d, plan, ReviewVerdict(vote="approve"), crit)
    assert (package.outcome, package.status) == ("reject_escalate", "blocked")
    assert package.action is not None and package.action.type == "escalate"
    assert "take the shop down" in (package.blocked_reason or "")


def test_all_degraded_goes_to_a_human(make_ctx: Make) -> None:
    package = decide(make_ctx(), DiagnosisReport(abstain=True), ActionPlan(),
                     ReviewVerdict(vote="abstain"), CriticReport(vote="abstain"),
                     Degraded(True, True, True, True))
    assert (package.outcome, package.status) == ("all_degraded_human", "blocked")
    assert package.requires_human_approval


def test_healthy_is_no_action_without_approval(make_ctx: Make, diag: Diag) -> None:
    package = debate(make_ctx(), diag(("shop", "checkout", "none", 0.9)))
    assert package.outcome == "no_action"
    assert package.action is not None and package.action.type == "no_action"
    assert not package.requires_human_approval


def test_nothing_found_while_a_page_still_fires_needs_a_human_to_confirm(
    make_ctx: Make, diag: Diag
) -> None:
    ctx = make_ctx(priority="P1")
    ctx.evidence.alerts = [AlertView(
        status="firing", labels={"alertname": "HighErrorRate", "severity": "critical"},
        starts_at=datetime(2026, 4, 18, 10, 40, tzinfo=UTC))]
    package = debate(ctx, diag(("shop", "checkout", "none", 0.9)))
    assert package.outcome == "no_action_confirm"
    assert package.action is not None and package.action.type == "no_action"
    assert package.requires_human_approval

    ctx.evidence.alerts[0].status = "resolved"
    assert not debate(ctx, diag(("shop", "checkout", "none", 0.9))).requires_human_approval


def test_abstention_escalates(make_ctx: Make, diag: Diag) -> None:
    package = debate(make_ctx(), diag(("shop", "checkout", "bad_deploy", 0.3), abstain=True))
    assert (package.outcome, package.status) == ("abstain_escalate", "ready")
    assert package.team == "COLLAB"


def test_policy_escalation(make_ctx: Make, diag: Diag) -> None:
    package = debate(make_ctx(), diag(("db", "orders-db", "database_saturation", 0.9)))
    assert package.outcome == "escalate" and package.status == "ready"
    assert package.fault == "database_saturation"
    assert any(f.kind == "connection_pool" for f in package.followups)


def test_missing_solver_escalates(make_ctx: Make, diag: Diag) -> None:
    d = diag(("shop", "checkout", "bad_deploy", 0.9))
    package = decide(make_ctx(), d, ActionPlan(), ReviewVerdict(vote="abstain"),
                     CriticReport(vote="abstain"), Degraded(solver=True))
    assert package.outcome == "no_plan_escalate" and package.status == "blocked"


def test_low_confidence_is_never_automatic(make_ctx: Make, diag: Diag) -> None:
    package = debate(make_ctx(), diag(("shop", "cart", "traffic_surge", 0.6)))
    assert package.requires_human_approval
    assert package.team == "COLLAB"


def test_distinct_outcomes_cover_at_least_six(make_ctx: Make, diag: Diag) -> None:
    ctx = make_ctx()
    seen = {debate(ctx, diag(h)).outcome for h in [
        ("shop", "cart", "traffic_surge", 0.9), ("", "w2", "node_failure", 0.9),
        ("shop", "checkout", "none", 0.9), ("db", "orders-db", "database_saturation", 0.9)]}
    seen.add(debate(ctx, diag(("shop", "checkout", "bad_deploy", 0.2), abstain=True)).outcome)
    plan = ActionPlan(candidates=[CandidateAction(action=Action(
        type="rollout_restart", target="db/statefulset/orders-db"))])
    d = diag(("db", "orders-db", "database_saturation", 0.9))
    seen.add(decide(ctx, d, plan, review(ctx, d, plan), CriticReport(vote="approve")).outcome)
    assert len(seen) >= 6, seen


def test_contested_diagnosis_is_never_automatic(make_ctx: Make, diag: Diag) -> None:
    package = debate(make_ctx(), diag(("shop", "cart", "traffic_surge", 0.9),
                                      ("shop", "cart", "cpu_saturation", 0.8)))
    assert package.status == "ready" and package.requires_human_approval
    assert package.outcome == "approve_with_human"
