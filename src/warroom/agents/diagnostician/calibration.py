"""Confidence calibration: map a raw rule score (and its margin over the runner-up) to a
probability that the hypothesis is right, and measure how well that holds (reliability bins).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from warroom.agents.diagnostician.index import Entity
from warroom.agents.models import Hypothesis

# Platt scaling on logit(score) and the margin, fitted on the generated regression set (630 runs)
# with every scenario also replayed without each evidence dimension (a failed sensor), see
# tests/agents/diagnostician/diag_harness.py --calibrate (run it with _A, _B, _C = 1, 0, 0).
_A, _B, _C = 1.850, 0.0, 2.629


def calibrate(score: float, margin: float) -> float:
    """Return a calibrated confidence in 0..1 for a raw score and its lead over the runner-up."""
    s = min(max(score, 1e-4), 1 - 1e-4)
    x = _A * math.log(s / (1 - s)) + _B * margin + _C
    return round(1 / (1 + math.exp(-x)), 3)


def confidences(scored: list[tuple[float, Entity, str, list[str]]]) -> list[Hypothesis]:
    """Calibrate the leader; the others share what the leader leaves, in proportion to score.

    The calibration map was fitted on leaders, and the hypotheses exclude one another: a
    runner-up cannot be more likely than the leader, nor than the leader's chance of being wrong.
    """
    raw_top = max(scored[0][0], 1e-6)
    top = calibrate(scored[0][0], scored[0][0] - (scored[1][0] if len(scored) > 1 else 0.0))
    out = []
    for i, (raw, ent, fault, ev) in enumerate(scored):
        conf = top if i == 0 else round(min(
            calibrate(raw, raw - raw_top), (1 - top) * raw / raw_top, top * raw / raw_top), 3)
        out.append(Hypothesis(namespace=ent[0], service=ent[1], fault=fault,
                              confidence=conf, evidence=ev))
    return out


@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    count: int
    mean_confidence: float
    accuracy: float


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = 5) -> tuple[list[Bin], float]:
    """Return reliability bins and the expected calibration error of (confidence, correct)."""
    out: list[Bin] = []
    ece = 0.0
    n = len(pairs)
    for i in range(bins):
        lo, hi = i / bins, (i + 1) / bins
        sel = [(c, ok) for c, ok in pairs if lo <= c < hi or (i == bins - 1 and c == 1.0)]
        if not sel:
            continue
        conf = sum(c for c, _ in sel) / len(sel)
        acc = sum(ok for _, ok in sel) / len(sel)
        out.append(Bin(lo, hi, len(sel), conf, acc))
        ece += len(sel) / n * abs(conf - acc)
    return out, ece
