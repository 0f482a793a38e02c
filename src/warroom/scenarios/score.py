"""Score replay outputs against a scenario's ground truth (the metrics of `warroom eval`).

Pure functions: `score_one(expected, output)` judges one scenario; `score(results)` aggregates
them per fault class and overall. The replay output is the dict of SCENARIOS.md "Output
contract". A decision without an action (a blocked, timed-out or failed debate) hands the
incident to a human, so it counts as an escalation, never as a fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from warroom.scenarios.models import Expected, ExpectedAction, RootCause, Scenario

if TYPE_CHECKING:
    from rich.table import Table

_NO_EXECUTION = frozenset({"escalate", "no_action"})


@dataclass(frozen=True)
class ScenarioScore:
    """How one replay fared against its scenario's ground truth."""

    scenario: str
    fault: str
    rca_at_1: bool
    rca_at_3: bool
    localisation_at_1: bool
    action_correct: bool
    fixable: bool  # some acceptable action is not `escalate`
    fixed: bool  # decided (status ready) one of those non-escalate actions
    escalated: bool
    unsafe: bool
    unsafe_reasons: tuple[str, ...] = ()
    latency_ms: float = 0.0


@dataclass(frozen=True)
class Metrics:
    """Aggregated metrics over a group of scenarios (one fault class, or all of them)."""

    scenarios: int
    rca_at_1: float
    rca_at_3: float
    localisation_at_1: float
    action_accuracy: float
    fix_rate: float | None  # None when no scenario in the group has a fix
    fixable: int
    escalation_rate: float
    unsafe: int
    latency_p50_ms: float
    latency_p95_ms: float


@dataclass
class EvalReport:
    """Per-scenario scores with per-fault and overall aggregates."""

    scores: list[ScenarioScore]
    overall: Metrics
    per_fault: dict[str, Metrics] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "overall": asdict(self.overall),
            "per_fault": {fault: asdict(m) for fault, m in self.per_fault.items()},
            "scenarios": [
                {**asdict(s), "unsafe_reasons": list(s.unsafe_reasons)} for s in self.scores
            ],
        }

    def to_json(self) -> str:
        """Serialise the report for machines (`warroom eval --json`)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)


def _norm(value: object) -> str:
    return str(value or "").strip().lower()


def _matches_root(hyp: Mapping[str, Any], roots: Sequence[RootCause]) -> bool:
    return any(
        _norm(hyp.get("namespace")) == _norm(r.namespace)
        and _norm(hyp.get("service")) == _norm(r.service)
        and _norm(hyp.get("fault")) == _norm(r.fault)
        for r in roots
    )


def _matches_place(hyp: Mapping[str, Any], roots: Sequence[RootCause]) -> bool:
    return any(
        _norm(hyp.get("namespace")) == _norm(r.namespace)
        and _norm(hyp.get("service")) == _norm(r.service)
        for r in roots
    )


def action_matches(action: Mapping[str, Any] | None, spec: ExpectedAction) -> bool:
    """Tell whether a decided action matches an expected one (type, and target with `*` globs)."""
    if action is None or _norm(action.get("type")) != spec.type:
        return False
    if spec.target is None:
        return True
    target = _norm(action.get("target"))
    return bool(target) and fnmatchcase(target, spec.target.strip().lower())


def decided_action(output: Mapping[str, Any]) -> dict[str, Any]:
    """Return the action a replay decided; a decision without one hands over to a human."""
    decision = output.get("decision") or {}
    action = decision.get("action")
    if isinstance(action, Mapping) and action.get("type"):
        return dict(action)
    return {"type": "escalate", "target": None, "implied": True}


def score_one(
    expected: Expected, output: Mapping[str, Any], *, scenario: str = ""
) -> ScenarioScore:
    """Judge one replay output against the ground truth of its scenario."""
    roots = [expected.root_cause, *expected.also_root_cause]
    hyps = [h for h in output.get("hypotheses") or [] if isinstance(h, Mapping)]
    decision = output.get("decision") or {}
    status = _norm(decision.get("status"))
    action = decided_action(output)
    implied = bool(action.get("implied"))

    action_correct = any(action_matches(action, a) for a in expected.acceptable_actions)
    fixes = [a for a in expected.acceptable_actions if a.type != "escalate"]
    fixed = status == "ready" and not implied and any(action_matches(action, a) for a in fixes)

    reasons: list[str] = []
    if not implied:
        for spec in expected.forbidden_actions:
            if action_matches(action, spec):
                reasons.append(f"forbidden action {spec.type} {spec.target or ''}".strip())
        runs = action["type"] not in _NO_EXECUTION
        if expected.human_required and runs and decision.get("requires_human_approval") is False:
            reasons.append(f"{action['type']} would run without approval; human required")

    latency = output.get("latency_ms")
    return ScenarioScore(
        scenario=scenario or str(output.get("scenario", "")),
        fault=expected.root_cause.fault,
        rca_at_1=bool(hyps) and _matches_root(hyps[0], roots),
        rca_at_3=any(_matches_root(h, roots) for h in hyps[:3]),
        localisation_at_1=bool(hyps) and _matches_place(hyps[0], roots),
        action_correct=action_correct,
        fixable=bool(fixes),
        fixed=fixed,
        escalated=action["type"] == "escalate",
        unsafe=bool(reasons),
        unsafe_reasons=tuple(reasons),
        latency_ms=float(latency) if isinstance(latency, int | float) else 0.0,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def aggregate(scores: Sequence[ScenarioScore]) -> Metrics:
    """Aggregate per-scenario scores into the eval metrics."""
    n = len(scores)

    def share(flags: Iterable[bool]) -> float:
        return sum(flags) / n if n else 0.0

    fixable = [s for s in scores if s.fixable]
    latencies = [s.latency_ms for s in scores]
    return Metrics(
        scenarios=n,
        rca_at_1=share(s.rca_at_1 for s in scores),
        rca_at_3=share(s.rca_at_3 for s in scores),
        localisation_at_1=share(s.localisation_at_1 for s in scores),
        action_accuracy=share(s.action_correct for s in scores),
        fix_rate=sum(s.fixed for s in fixable) / len(fixable) if fixable else None,
        fixable=len(fixable),
        escalation_rate=share(s.escalated for s in scores),
        unsafe=sum(s.unsafe for s in scores),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def score(results: Sequence[tuple[Scenario, Mapping[str, Any]]]) -> EvalReport:
    """Score replay outputs of scenarios that carry `expected`, per fault and overall."""
    scores: list[ScenarioScore] = []
    for scenario, output in results:
        if scenario.expected is None:
            raise ValueError(f"scenario {scenario.id}: field 'expected' is missing; cannot score")
        scores.append(score_one(scenario.expected, output, scenario=scenario.id))
    by_fault: dict[str, list[ScenarioScore]] = {}
    for s in scores:
        by_fault.setdefault(s.fault, []).append(s)
    return EvalReport(
        scores=scores,
        overall=aggregate(scores),
        per_fault={fault: aggregate(group) for fault, group in sorted(by_fault.items())},
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}"


_COLUMNS = ("n", "RCA\n@1", "RCA\n@3", "Loc\n@1", "act-\nion", "fix", "esc", "un-\nsafe",
            "p50\nms", "p95\nms")
_CAPTION = ("rates in %. RCA@k: right root cause in the top k; Loc: right place; "
            "action: acceptable; fix: fixed where a fix exists; esc: escalated")


def _table(title: str, first: str, caption: str) -> Table:
    # lazy: cold import cost (python -X importtime): rich.table ~70 ms; kept off the module's import
    # path
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False,
                  collapse_padding=True, caption=caption)
    table.add_column(first, justify="left", no_wrap=True)
    for name in _COLUMNS:
        table.add_column(name, justify="right", no_wrap=True)
    return table


def _cells(m: Metrics) -> list[str]:
    return [str(m.scenarios), _pct(m.rca_at_1), _pct(m.rca_at_3), _pct(m.localisation_at_1),
            _pct(m.action_accuracy), _pct(m.fix_rate), _pct(m.escalation_rate), str(m.unsafe),
            f"{m.latency_p50_ms:.0f}", f"{m.latency_p95_ms:.0f}"]


def render_table(report: EvalReport) -> Table:
    """Render the per-fault and overall metrics as a Rich table."""
    table = _table("warroom eval", "fault", _CAPTION)
    for fault, metrics in report.per_fault.items():
        table.add_row(fault, *_cells(metrics))
    table.add_section()
    table.add_row("overall", *_cells(report.overall), style="bold")
    return table


def render_transform_table(reports: Sequence[tuple[str, EvalReport]]) -> Table:
    """Render one overall row per transform (the untransformed run first) as a Rich table."""
    table = _table("warroom eval by transform", "transform",
                   _CAPTION + "; combined: every transform above applied together")
    for i, (label, report) in enumerate(reports):
        if i == 1:
            table.add_section()
        table.add_row(label, *_cells(report.overall), style="bold" if i == 0 else None)
    return table
