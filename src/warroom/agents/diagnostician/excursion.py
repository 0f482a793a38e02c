"""Robust statistics of one series against its baseline, and the search for excursions.

The spread of a baseline (MAD, IQR, floored so two samples still judge), the strength a robust
z earns, the precedent a baseline gives a level (a binomial tail), and the strongest stretch of
samples off the baseline's band in the bad direction: within the incident's look-back against
the history before it, or, when that history is short, from a change-point inside the short
baseline, judged against every sample outside the stretch (the epidemic change-point model).
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median

MIN_Z = 3.0
LOOKBACK = 15 * 60.0  # an excursion this long before the anchor still belongs to the incident
LOOKBACK_BASELINE = 8  # samples a baseline before the look-back needs to judge excursions
RECOVERED_FACTOR = 0.8  # an excursion over by now is weaker evidence than one that lasts
EXCURSION_Z = 5.0  # the strongest of many stretches searched: a higher bar than one median
SPLIT_BASELINE = 2  # samples a change-point inside a short baseline must leave outside it
ONE_SAMPLE_SPREAD = 0.05  # the noise assumed of a 0..1 share of a capacity known by one sample
PRECEDENT_ALPHA = 1e-3  # how unlikely a level must be under the baseline to count fully
DIRECTED = frozenset({"errors", "latency", "saturation", "free"})
ERROR_FLOOR = 0.02  # an error ratio rising by less is noise, unless an alert fired on less


def spread(base: list[float], med: float, kind: str, scale_hint: float,
           error_floor: float = ERROR_FLOOR) -> float:
    """Return the robust spread of a baseline, floored so few or flat samples still judge.

    A flat error ratio's noise is taken as half the least rise that counts (`error_floor`).
    """
    mad = median(abs(v - med) for v in base) * 1.4826
    srt = sorted(base)
    q1, q3 = srt[len(srt) // 4], srt[(3 * len(srt)) // 4]
    iqr = (q3 - q1) / 1.349
    # a flat baseline says little about the noise: assume 10% of the level (BARO's floor)
    rel = 0.1 * abs(med)
    if kind == "errors" and scale_hint <= 1.0:
        absolute = error_floor / 2
    elif kind in ("saturation", "free") and scale_hint <= 1.0:
        absolute = 0.01
    else:
        absolute = 0.02 * scale_hint if scale_hint > 0 else 1e-6
    return max(mad, iqr, rel, absolute, 1e-9)


def _sorted_median(values: list[float]) -> float:
    """Return the median of sorted values (as `statistics.median` would, without sorting)."""
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def strength_of(z: float) -> float:
    """Turn a robust z into an anomaly strength: nothing below MIN_Z, about 0.6 at z = 8."""
    return 1 - math.exp(-max(0.0, min(z, 50.0) - MIN_Z) / 5)


def precedent(base: list[float], med: float, direction: float, level: float, hits: int,
              trials: int) -> float:
    """Return how likely the baseline makes `hits` of `trials` samples `level` off its median.

    The share of baseline samples at least that far off in the same direction is the chance of
    one such sample; the binomial tail gives the chance of as many as were seen. A baseline with
    no such sample gives no precedent (0): the robust z judges alone, as it must with two
    samples at five-minute steps.
    """
    exceed = sum(1 for v in base if direction * (v - med) >= level)
    if not exceed or not trials or not base:
        return 0.0
    q = exceed / len(base)
    return sum(math.comb(trials, i) * q ** i * (1 - q) ** (trials - i)
               for i in range(hits, trials + 1))


def significance(p: float) -> float:
    """Turn a precedent probability into a factor: 1 when rare enough, 0 when it is the norm."""
    if p <= PRECEDENT_ALPHA:
        return 1.0
    return min(1.0, math.log(p) / math.log(PRECEDENT_ALPHA)) ** 2


@dataclass(frozen=True)
class Excursion:
    """The strongest stretch of a series off its baseline band in the bad direction."""

    strength: float
    z: float
    base: float
    level: float  # the value at least two samples of the stretch reached
    onset: datetime
    over: bool  # back inside the band by the newest sample
    baseline_points: int
    scale: float
    direction: float


def excursion_of(pts: list[tuple[float, float]], kind: str, hint: float, anchor: float | None,
                  cut: int, base_vals: list[float], med: float,
                  scale: float, error_floor: float = ERROR_FLOOR) -> Excursion | None:
    """Find the strongest excursion within the incident's look-back.

    With enough history, the baseline is what came before the look-back (LOOKBACK before the
    anchor), so a burst that started and ended minutes before the alert is scored against the
    series' quiet past rather than being part of it; otherwise the usual baseline is used and
    the excursion is searched after it (a spike in the newest samples that a median of the
    recent part dilutes). An error ratio's stretch must rise by `error_floor` at least.
    """
    if kind not in DIRECTED:
        return None
    splits = [(cut, base_vals, med, scale, False)]
    if anchor is not None:
        early = sum(1 for t, _ in pts if t < anchor - LOOKBACK)
        if early >= LOOKBACK_BASELINE:
            base = [v for _, v in pts[:early]]
            m = median(base)
            splits = [(early, base, m, spread(base, m, kind, hint, error_floor), False)]
        else:
            # too little history before the look-back: the trouble may have begun inside the
            # short baseline (an alert fires a step or more after its onset at coarse steps),
            # so every split in the look-back is tried as the change-point, judged against
            # what came before it alone
            direction = -1.0 if kind == "free" else 1.0
            first = max(1, early)
            before = sorted(v for _, v in pts[:first])  # the samples before `at`, kept sorted
            for at in range(first, cut):
                m = _sorted_median(before)
                # no stretch can begin where its first sample is not off the median
                if direction * (pts[at][1] - m) > 0:
                    base = list(before)
                    splits.append((at, base, m, spread(base, m, kind, hint, error_floor), True))
                insort(before, pts[at][1])
    best: Excursion | None = None
    for start, base, m, sc, at_split in splits:
        found = _stretches(pts, kind, hint, start, base, m, sc, at_split, error_floor)
        if found is not None and (best is None or found.strength > best.strength):
            best = found
    return best if best is not None and best.strength > 0 else None


def _stretches(pts: list[tuple[float, float]], kind: str, hint: float, start: int,
               base: list[float], med: float, scale: float,
               at_split: bool, error_floor: float) -> Excursion | None:
    """Return the strongest stretch off the band of `base` from sample `start` on.

    When `start` is a change-point tried inside a short baseline (`at_split`), only the stretch
    beginning there counts, and it is judged as the epidemic change-point model does: against
    every sample outside it, before and after (a stretch already over came back to its level).
    That baseline needs SPLIT_BASELINE samples: one sample says nothing of the noise.
    """
    direction = -1.0 if kind == "free" else 1.0
    if at_split and direction * (pts[start][1] - med) <= MIN_Z * scale:
        return None  # the stretch must begin at the change-point, and it is inside the band
    devs = [direction * (v - med) for _, v in pts]
    best: Excursion | None = None
    i = start
    while i < len(pts):
        if devs[i] <= MIN_Z * scale:
            if at_split:
                break
            i += 1
            continue
        j = i
        while j + 1 < len(pts) and devs[j + 1] > MIN_Z * scale:
            j += 1
        if not at_split:
            found = _judge(pts, i, j, kind, hint, base, med, scale, direction, error_floor)
        else:
            outside = base + [v for _, v in pts[j + 1:]]
            # one sample says nothing of the noise, except of a share of a capacity (0..1),
            # whose noise is then assumed to be ONE_SAMPLE_SPREAD of it
            bounded = kind in ("saturation", "free") and scale_hint_ratio(hint)
            if len(outside) < (1 if bounded else SPLIT_BASELINE):
                break
            m = median(outside)
            sc = spread(outside, m, kind, hint, error_floor)
            if len(outside) < SPLIT_BASELINE:
                sc = max(sc, ONE_SAMPLE_SPREAD)
            if any(direction * (v - m) <= MIN_Z * sc for _, v in pts[i:j + 1]):
                break
            found = _judge(pts, i, j, kind, hint, outside, m, sc, direction, error_floor)
        if found is not None and (best is None or found.strength > best.strength):
            best = found
        if at_split:
            break
        i = j + 1
    return best


def _judge(pts: list[tuple[float, float]], i: int, j: int, kind: str, hint: float,
           base: list[float], med: float, scale: float, direction: float,
           error_floor: float) -> Excursion | None:
    """Score the stretch of samples i..j against a baseline: the level at least k of its
    samples reached (best k of two or more), by z - 2 and by precedent."""
    devs = [direction * (v - med) for _, v in pts[i:j + 1]]
    ranked = sorted(devs, reverse=True)
    over = j < len(pts) - 1
    best: Excursion | None = None
    for k in range(2, len(ranked) + 1):
        level = ranked[k - 1]
        value = med + direction * level
        strength = strength_of(level / scale - (EXCURSION_Z - MIN_Z))
        if kind == "latency" and med > 0 and value < 1.3 * med:
            strength = 0.0
        if kind == "errors" and scale_hint_ratio(hint) and level < error_floor:
            strength = 0.0
        if kind == "saturation" and 0 <= hint <= 1.0 and value >= 0.95:
            strength = max(strength, min(0.9, 0.5 + (value - 0.95) * 8))
        strength *= significance(precedent(base, med, direction, level, k, k))
        if over:
            strength *= RECOVERED_FACTOR
        if best is None or strength > best.strength:
            best = Excursion(strength=strength, z=level / scale, base=med, level=value,
                             onset=datetime.fromtimestamp(pts[i][0], tz=UTC), over=over,
                             baseline_points=len(base), scale=scale, direction=direction)
    return best


def scale_hint_ratio(hint: float) -> bool:
    """Tell whether a series' values look like a 0..1 ratio."""
    return 0 <= hint <= 1.0
