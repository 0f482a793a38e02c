"""Diagnosis quality on whole scenario sets: the project's regression set and the public examples.

The thresholds are the acceptance bar, not the current figures (see diag_harness.py for those).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from .diag_harness import load, run

REGRESSION = Path(__file__).resolve().parents[3] / "scenarios" / "regression"


def test_regression_set_rca_meets_the_bar() -> None:
    rows = run(load([REGRESSION]))
    assert len(rows) >= 72
    rca1 = sum(r["rca1"] for r in rows) / len(rows)
    assert rca1 >= 0.9, rca1
    by: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by[r["fault"]].append(r["rca3"])
    weak = {f: sum(v) / len(v) for f, v in by.items() if sum(v) / len(v) < 0.75}
    assert not weak, weak


# The public examples this bar was written for. The folder has since grown with examples from
# other sources (PetShop, Nezha, HolmesGPT, OpenSRE RDS); those are reported below, not gated,
# so that the bar never invites tuning the rules to them.
GATED_EXAMPLES = frozenset({
    "synth-application-error-1", "synth-certificate-expired-1", "synth-cpu-saturation-1",
    "synth-database-saturation-1", "synth-disk-pressure-1", "synth-dns-failure-1",
    "synth-external-dependency-1", "synth-network-latency-1", "synth-node-failure-1",
    "synth-traffic-surge-1", "opensre-eks-000", "opensre-eks-001", "opensre-eks-002",
})


def source_of(scenario_id: str) -> str:
    """Name an example's source by its id's first part (`nezha-20230129-02` -> `nezha`)."""
    head = scenario_id.split("-", 1)[0]
    return "opensre-rds" if scenario_id.startswith("opensre-rds") else head


def test_public_examples_are_diagnosed(scenarios_dir: Path) -> None:
    rows = [r for r in run(load([scenarios_dir])) if r["id"] in GATED_EXAMPLES]
    assert {r["id"] for r in rows} == GATED_EXAMPLES
    assert sum(r["rca1"] for r in rows) / len(rows) >= 0.75
    assert sum(r["rca3"] for r in rows) / len(rows) >= 0.9


def test_the_other_public_examples_are_reported(
    scenarios_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [r for r in run(load([scenarios_dir])) if r["id"] not in GATED_EXAMPLES]
    by: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by[source_of(r["id"])].append(r["rca1"])
    report = ", ".join(f"{src} {sum(v)}/{len(v)}" for src, v in sorted(by.items()))
    with capsys.disabled():
        print(f"\nungated public examples, RCA@1 by source: {report}")
    assert all(r["got"] or r["abstain"] for r in rows)  # every example gets an answer


def test_confidence_tracks_correctness_on_the_regression_set() -> None:
    rows = run(load([REGRESSION]))
    right = [r["confidence"] for r in rows if r["rca1"]]
    wrong = [r["confidence"] for r in rows if not r["rca1"]]
    assert all(0.0 <= c <= 1.0 for c in right + wrong)
    if wrong:  # wrong answers must be less confident on average than right ones
        assert sum(wrong) / len(wrong) < sum(right) / len(right)
    # abstaining is for weak leaders, or leaders only the anomaly method localised
    abstained = [r for r in rows if r["abstain"]]
    assert all(r["confidence"] < 0.4 or "localised from anomalies alone" in r["summary"]
               for r in abstained)
