"""A weak topology from co-movement, for snapshots that carry no call graph.

Places whose anomalous series move together over the window (the correlation of their
differenced series, so shared steps and bursts count and shared trends do not) are likely
linked: one calls the other, or both share something. The link has no direction, so it is
never used to name a place; it only lets the walk (localise.mark_victims) discount a place
that inherits its trouble from a neighbour whose anomaly started first or whose own
resources moved.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import TYPE_CHECKING

from warroom.agents.diagnostician.anomaly import place_of

if TYPE_CHECKING:
    from warroom.agents.diagnostician.index import Entity, Index
    from warroom.agents.diagnostician.localise import Place

MIN_ANOMALY = 0.3  # places this anomalous are linked
MIN_CORRELATION = 0.7  # of their differenced series
MIN_STEPS = 4  # common differences needed to judge
_SERIES_PER_PLACE = 2


def _diffs(points: list[tuple[float, float]]) -> dict[float, float]:
    return {t1: v1 - v0 for (_, v0), (t1, v1) in zip(points, points[1:], strict=False)}


def _pearson(a: dict[float, float], b: dict[float, float]) -> float:
    common = sorted(a.keys() & b.keys())
    if len(common) < MIN_STEPS:
        return 0.0
    xs, ys = [a[t] for t in common], [b[t] for t in common]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else 0.0


def comoving(ix: Index, places: dict[Entity, Place]) -> dict[Entity, set[Entity]]:
    """Link anomalous places whose most anomalous series co-move; undirected, both ways."""
    wanted: dict[Entity, set[str]] = {}
    for ent, p in places.items():
        if p.anomaly >= MIN_ANOMALY:
            top = sorted((s for s in p.signals if s.score > 0), key=lambda s: -s.score)
            wanted[ent] = {s.name for s in top[:_SERIES_PER_PLACE]}
    moves: dict[Entity, list[dict[float, float]]] = {}
    for s in ix.snapshot.series:
        if s.name not in {n for names in wanted.values() for n in names}:
            continue
        where = place_of(ix, s)
        if where is not None and where in wanted and s.name in wanted[where]:
            moves.setdefault(where, []).append(_diffs(sorted(ix.points(s))))
    links: dict[Entity, set[Entity]] = {}
    for a, b in combinations(sorted(moves), 2):
        if any(abs(_pearson(x, y)) >= MIN_CORRELATION for x in moves[a] for y in moves[b]):
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
    return links
