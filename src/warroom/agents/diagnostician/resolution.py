"""Series finer than a minute, read at one-minute steps: the resolution the scoring expects.

The scoring counts samples: the recent part of a series is its last ten at most, an excursion
needs two samples off the band, a short series has fewer than six. At one-minute steps (what
the metrics sensor asks Prometheus for) those are minutes; a series sampled every 15 seconds, or
every second, would make them seconds, and a blip of half a minute a lasting change. So a
series whose samples come more often than every 45 seconds keeps, of each minute ending at the
snapshot's newest sample, its last sample, as Prometheus' `query_range` at a one-minute step
returns it. Coarser series (five-minute CloudWatch data) are left as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from statistics import median

from warroom.sensors.models import Series

MINUTE = 60.0
_FINER = 45.0  # a median step under this is finer than a minute


def at_minutes(series: list[Series]) -> list[Series]:
    """Return the series with every one finer than a minute thinned to one-minute steps."""
    fine = {id(s) for s in series if _step(s) < _FINER}
    if not fine:
        return series
    latest = max((float(t) for s in series for t, _ in s.values[-1:]), default=0.0)
    out = []
    for s in series:
        if id(s) not in fine:
            out.append(s)
            continue
        kept: dict[int, tuple[float, str]] = {}
        for t, value in s.values:
            minute = math.floor((latest - float(t)) / MINUTE)
            if minute not in kept or float(t) > kept[minute][0]:
                kept[minute] = (float(t), value)
        out.append(s.model_copy(update={"values": sorted(kept.values())}))
    return out


def sampling_step(runs: Iterable[Sequence[float]], default: float = 60.0) -> float:
    """Return the usual interval between samples: the median gap between consecutive distinct
    times within each run of ascending sample times, or `default` with no gap at all."""
    gaps = [b - a for times in runs for a, b in zip(times, times[1:], strict=False) if b > a]
    return median(gaps) if gaps else default


def _step(s: Series) -> float:
    """Return a series' usual sampling interval, read off its first samples."""
    return sampling_step([sorted(float(t) for t, _ in s.values[:21])], math.inf)
