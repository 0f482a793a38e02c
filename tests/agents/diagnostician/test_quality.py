"""Diagnosis quality on whole scenario sets: the project's regression set and the public examples.

The thresholds are the acceptance bar, not the current figures (see diag_harness.py for those).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

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


def test_public_examples_are_diagnosed(scenarios_dir: Path) -> None:
    rows = run(load([scenarios_dir]))
    assert rows
    assert sum(r["rca1"] for r in rows) / len(rows) >= 0.75
    assert sum(r["rca3"] for r in rows) / len(rows) >= 0.9


def test_confidence_tracks_correctness_on_the_regression_set() -> None:
    rows = run(load([REGRESSION]))
    right = [r["confidence"] for r in rows if r["rca1"]]
    wrong = [r["confidence"] for r in rows if not r["rca1"]]
    assert all(0.0 <= c <= 1.0 for c in right + wrong)
    if wrong:  # wrong answers must be less confident on average than right ones
        assert sum(wrong) / len(wrong) < sum(right) / len(right)
    abstained = [r for r in rows if r["abstain"]]
    assert all(r["confidence"] < 0.4 for r in abstained)
