"""Series finer than a minute are read at one-minute steps, so a blip of seconds stays a blip."""

from __future__ import annotations

from pathlib import Path

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.diagnostician.resolution import at_minutes
from warroom.scenarios.replay import load_scenario
from warroom.scenarios.transforms import fine_steps
from warroom.sensors.models import Series

from .diag_harness import judge, snapshot_from_scenario

REGRESSION = Path(__file__).parents[3] / "scenarios" / "regression-sandbox"


def _series(step: float, n: int, end: float = 6000.0) -> Series:
    return Series(metric={"__name__": "x"},
                  values=[(end - step * (n - 1 - i), str(i)) for i in range(n)])


def test_a_fine_series_keeps_the_last_sample_of_each_minute_to_the_newest() -> None:
    fine = _series(15.0, 12)  # three minutes ending at 6000
    [thinned] = at_minutes([fine])
    assert [t for t, _ in thinned.values] == [5880.0, 5940.0, 6000.0]
    assert [v for _, v in thinned.values] == ["3", "7", "11"]


def test_minute_and_coarser_series_are_left_as_they_are() -> None:
    minute, coarse = _series(60.0, 10), _series(300.0, 5)
    series = [minute, coarse]
    assert at_minutes(series) is series
    fine = _series(15.0, 8)
    assert at_minutes([minute, fine, coarse])[0] is minute


def test_a_recording_read_at_fifteen_second_steps_is_diagnosed_as_at_one_minute() -> None:
    # diagnosed wrong (cpu_saturation at its caller) before the series were thinned
    scenario = load_scenario(REGRESSION / "sandbox-network-latency-d2-s21.json",
                             with_expected=True)
    report = diagnose_snapshot(snapshot_from_scenario(fine_steps(scenario)))
    assert judge(scenario, report)[0]
