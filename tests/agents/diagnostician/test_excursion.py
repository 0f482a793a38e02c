"""Robust statistics and the excursion search (excursion.py), on synthetic points."""

from __future__ import annotations

from statistics import median

from warroom.agents.diagnostician.excursion import (
    ONE_SAMPLE_SPREAD,
    SPLIT_BASELINE,
    Excursion,
    excursion_of,
    spread,
)

STEP = 300.0  # five-minute samples


def search(values: list[float], kind: str, cut: int = 2) -> Excursion | None:
    """Search five-minute points for an excursion, the anchor just before sample `cut`."""
    pts = [(STEP * i, v) for i, v in enumerate(values)]
    anchor = STEP * cut - 60.0
    base = values[:cut]
    med = median(base)
    hint = max(abs(v) for v in values)
    return excursion_of(pts, kind, hint, anchor, cut, base, med, spread(base, med, kind, hint))


def test_a_pulse_that_began_inside_the_short_baseline_is_found_at_its_change_point() -> None:
    exc = search([0.0, 0.064, 0.078, 0.056, 0.0], "errors")
    assert exc is not None and exc.over
    assert exc.onset.timestamp() == STEP  # the second sample
    assert exc.baseline_points == SPLIT_BASELINE  # the zeros before and after the pulse
    assert exc.base == 0.0 and exc.level >= 0.056


def test_a_change_point_that_leaves_one_sample_outside_it_is_not_judged() -> None:
    assert search([0.067, 0.24, 0.24, 0.24, 0.24], "latency") is None


def test_a_share_of_capacity_that_filled_from_the_second_sample_is_judged_on_one() -> None:
    # a disk filling: one sample before the change, which never came back; a share of a
    # capacity has a known scale, so one sample judges it, with a cautious noise assumed
    exc = search([0.29, 0.53, 0.82, 0.94, 0.93], "saturation")
    assert exc is not None and exc.baseline_points == 1
    assert exc.onset.timestamp() == STEP and exc.scale == ONE_SAMPLE_SPREAD
    # what noise on such a share does (a CPU ratio a few points up) stays nothing
    assert search([0.30, 0.36, 0.38, 0.37, 0.39], "saturation") is None
    # and a quantity without a known scale still needs two samples
    assert search([0.29, 0.53, 0.82, 0.94, 0.93], "latency") is None


def test_a_pulse_within_the_baseline_band_is_nothing() -> None:
    # the second sample is inside the band of the first: no change-point there
    assert search([0.30, 0.31, 0.30, 0.32, 0.31], "latency") is None


def test_kinds_without_a_bad_direction_are_not_searched() -> None:
    assert search([1.0, 5.0, 6.0, 5.5, 1.0], "traffic") is None
