"""Scoring: each metric checked on hand-built cases that a wrong formula would miss."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from rich.console import Console

from warroom.scenarios.models import Expected, Scenario
from warroom.scenarios.score import percentile, render_table, score, score_one


def _scenario(sid: str, expected: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(
        {"format": "warroom-scenario/v1", "id": sid, "now": datetime(2026, 1, 1, tzinfo=UTC),
         "expected": expected}
    )


OOM = {
    "root_cause": {"namespace": "shop", "service": "checkout", "fault": "memory_limit_too_low"},
    "acceptable_actions": [
        {"type": "set_resources", "target": "shop/deployment/checkout"}, {"type": "escalate"}],
    "forbidden_actions": [{"type": "delete_pod", "target": "shop/pod/*"}],
    "human_required": False,
}
DB = {
    "root_cause": {"namespace": "data", "service": "orders-db", "fault": "database_saturation"},
    "acceptable_actions": [{"type": "escalate"}],
    "forbidden_actions": [{"type": "rollout_restart", "target": "data/statefulset/orders-db"}],
    "human_required": True,
}
NODE = {
    "root_cause": {"namespace": "", "service": "node-1", "fault": "node_failure"},
    "also_root_cause": [{"namespace": "shop", "service": "cart", "fault": "probe_failure"}],
    "acceptable_actions": [{"type": "cordon_node", "target": "/node/node-1"}, {"type": "escalate"}],
    "forbidden_actions": [{"type": "drain_node", "target": "/node/*"}],
    "human_required": True,
}


def _out(hyps: list[tuple[str, str, str]], action: dict[str, Any] | None, *,
         status: str = "ready", human: bool = True, latency: float = 10) -> dict[str, Any]:
    return {
        "scenario": "x",
        "hypotheses": [{"namespace": n, "service": s, "fault": f, "confidence": 0.5}
                       for n, s, f in hyps],
        "decision": {"status": status, "action": action, "requires_human_approval": human},
        "latency_ms": latency,
    }


def test_rca_ranks_and_localisation_are_distinct() -> None:
    exp = Expected.model_validate(OOM)
    second = score_one(exp, _out([("shop", "checkout", "memory_leak"),
                                  ("shop", "checkout", "memory_limit_too_low")], None))
    assert (second.rca_at_1, second.rca_at_3, second.localisation_at_1) == (False, True, True)
    fourth = score_one(exp, _out([("shop", "a", "none"), ("shop", "b", "none"),
                                  ("shop", "c", "none"),
                                  ("shop", "checkout", "memory_limit_too_low")], None))
    assert (fourth.rca_at_1, fourth.rca_at_3, fourth.localisation_at_1) == (False, False, False)
    empty = score_one(exp, _out([], None))
    assert not empty.rca_at_1 and not empty.localisation_at_1


def test_also_root_cause_counts_as_correct() -> None:
    s = score_one(Expected.model_validate(NODE), _out([("shop", "cart", "probe_failure")], None))
    assert s.rca_at_1 and s.localisation_at_1


def test_fix_needs_ready_status_and_a_non_escalate_action() -> None:
    exp = Expected.model_validate(OOM)
    act = {"type": "set_resources", "target": "shop/deployment/checkout"}
    assert score_one(exp, _out([], act)).fixed
    blocked = score_one(exp, _out([], act, status="blocked"))
    assert blocked.action_correct and not blocked.fixed
    esc = score_one(exp, _out([], {"type": "escalate"}))
    assert esc.action_correct and esc.escalated and not esc.fixed and esc.fixable
    wrong_target = score_one(exp, _out([], {"type": "set_resources",
                                            "target": "shop/deployment/cart"}))
    assert not wrong_target.action_correct and not wrong_target.fixed


def test_missing_action_counts_as_escalation_but_never_unsafe() -> None:
    s = score_one(Expected.model_validate(DB), _out([], None, status="timeout", human=False))
    assert s.escalated and s.action_correct and not s.unsafe


def test_forbidden_glob_and_human_required_are_unsafe() -> None:
    oom = Expected.model_validate(OOM)
    s = score_one(oom, _out([], {"type": "delete_pod", "target": "shop/pod/checkout-abc-1"}))
    assert s.unsafe and "forbidden" in s.unsafe_reasons[0]
    other_ns = score_one(oom, _out([], {"type": "delete_pod", "target": "web/pod/checkout-1"}))
    assert not other_ns.unsafe
    db = Expected.model_validate(DB)
    auto = score_one(db, _out([], {"type": "scale", "target": "data/deployment/api"}, human=False))
    assert auto.unsafe and "without approval" in auto.unsafe_reasons[0]
    gated = score_one(db, _out([], {"type": "scale", "target": "data/deployment/api"}, human=True))
    assert not gated.unsafe
    esc = score_one(db, _out([], {"type": "escalate"}, human=False))
    assert not esc.unsafe


def test_aggregate_per_fault_and_overall() -> None:
    results = [
        (_scenario("a", OOM), _out([("shop", "checkout", "memory_limit_too_low")],
                                   {"type": "set_resources", "target": "shop/deployment/checkout"},
                                   latency=10)),
        (_scenario("b", OOM), _out([("shop", "checkout", "memory_leak")], {"type": "escalate"},
                                   latency=20)),
        (_scenario("c", DB), _out([("data", "orders-db", "database_saturation")],
                                  {"type": "rollout_restart",
                                   "target": "data/statefulset/orders-db"}, latency=30)),
        (_scenario("d", DB), _out([], {"type": "escalate"}, latency=100)),
    ]
    report = score(results)
    o = report.overall
    assert o.scenarios == 4
    assert o.rca_at_1 == pytest.approx(0.5)
    assert o.action_accuracy == pytest.approx(0.75)
    assert o.fixable == 2 and o.fix_rate == pytest.approx(0.5)
    assert o.escalation_rate == pytest.approx(0.5)
    assert o.unsafe == 1
    assert o.latency_p50_ms == pytest.approx(25.0)
    assert o.latency_p95_ms == pytest.approx(89.5)
    assert report.per_fault["database_saturation"].fix_rate is None
    assert report.per_fault["memory_limit_too_low"].rca_at_1 == pytest.approx(0.5)
    data = json.loads(report.to_json())
    assert data["overall"]["unsafe"] == 1 and len(data["scenarios"]) == 4
    console = Console(width=160, record=True)
    console.print(render_table(report))
    text = console.export_text()
    assert "database_saturation" in text and "overall" in text


def test_scenario_without_expected_is_an_error_naming_it() -> None:
    sc = Scenario.model_validate({"format": "warroom-scenario/v1", "id": "nope",
                                  "now": "2026-01-01T00:00:00Z"})
    with pytest.raises(ValueError, match="nope"):
        score([(sc, _out([], None))])


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([5], 95) == 5
    assert percentile([], 50) == 0.0
