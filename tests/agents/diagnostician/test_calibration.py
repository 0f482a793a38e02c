"""Confidence calibration: monotone in score and margin; reliability bins add up."""

from __future__ import annotations

import pytest

from warroom.agents.diagnostician.calibration import calibrate, reliability


def test_calibrate_is_monotone_and_bounded() -> None:
    scores = [calibrate(s / 10, 0.1) for s in range(11)]
    assert scores == sorted(scores)
    assert all(0 <= s <= 1 for s in scores) and scores[0] < 0.1 < 0.9 < scores[-1]
    assert calibrate(0.6, 0.5) >= calibrate(0.6, 0.0)  # a bigger lead never lowers it


def test_reliability_bins_and_ece() -> None:
    pairs = [(0.9, True)] * 9 + [(0.9, False)] + [(0.3, False)] * 2 + [(0.3, True)]
    bins, ece = reliability(pairs, bins=5)
    assert [b.count for b in bins] == [3, 10]
    assert bins[1].accuracy == pytest.approx(0.9)
    assert ece == pytest.approx(3 / 13 * abs(0.3 - 1 / 3))
