"""A personalised random walk over the anomaly-weighted call graph (MicroRCA, NOMS'20).

A walker starts either at the alerting place or at any anomalous place (the personalisation:
half its restarts at the alerts, half in proportion to each place's own anomaly). From a
place it moves to a callee in proportion to how anomalous the callee is, or the anomaly below
it when the callee itself is quiet (trouble travels up from callees, so the walker follows it
down), back to a caller with a small weight, or stays
when it is more anomalous than everything it calls (CloudRanger's self-loop: the deepest
anomalous place keeps the walker). The stationary probability ranks the places: mass pools at
anomalous places below the alert whose callees are normal, while a place with no path from
the alert keeps only the share its own anomaly earns at restart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from warroom.agents.diagnostician.index import Entity
from warroom.agents.diagnostician.localise import AFTER_ALERT_FACTOR, WEAK, Place
from warroom.agents.diagnostician.topology import Graph

DAMPING = 0.85  # chance of following an edge rather than restarting
BACK = 0.2  # weight of stepping back to a caller, relative to its anomaly
ALERT_SHARE = 0.5  # share of restarts at the alerting places
PASS = 0.7  # what a quiet place passes on of the anomaly below it, per hop
UNEXPLAINED = 0.3  # edge weight left from a place whose own trouble nothing below explains
_DEPTH = 6  # hops a quiet stretch of the path may span
_ITERATIONS = 60
_TOLERANCE = 1e-9


def walk_ranks(anomaly: Mapping[Entity, float], g: Graph, alerts: Iterable[Entity],
               own: Iterable[Entity] = ()) -> dict[Entity, float]:
    """Return each place's stationary probability, scaled so the highest is 1.

    `anomaly` holds each place's own anomaly (0..1; absent means 0). `own` are anomalous
    places whose trouble nothing below them explains (the victim rule found no callee whose
    symptoms account for theirs): as MicroRCA weighs an edge by how well the callee's anomaly
    correlates with the caller's, the walker leaves such a place for its callees with
    UNEXPLAINED of the usual weight. With no anomaly anywhere, the result is empty.
    """
    unexplained = set(own)
    starts = list(dict.fromkeys(alerts))
    nodes = sorted({*anomaly, *g.callees, *g.callers, *starts})
    a = {v: max(0.0, min(1.0, anomaly.get(v, 0.0))) for v in nodes}
    total = sum(a.values())
    if total <= 0:
        return {}
    share = ALERT_SHARE if starts else 0.0
    restart = {v: (1 - share) * a[v] / total for v in nodes}
    for s in starts:
        restart[s] += share / len(starts)
    lead = _leads(a, g)
    moves: dict[Entity, list[tuple[Entity, float]]] = {}
    for u in nodes:
        down = UNEXPLAINED if u in unexplained else 1.0
        out = [(c, down * lead[c]) for c in sorted(g.callees.get(u, ())) if lead[c] > 0]
        out += [(p, BACK * a[p]) for p in sorted(g.callers.get(u, ())) if a[p] > 0]
        deepest = max((down * lead[c] for c in g.callees.get(u, ())), default=0.0)
        if a[u] > deepest:
            out.append((u, a[u] - deepest))
        norm = sum(w for _, w in out)
        moves[u] = [(v, w / norm) for v, w in out] if norm > 0 else []
    pi = dict(restart)
    for _ in range(_ITERATIONS):
        nxt = {v: (1 - DAMPING) * restart[v] for v in nodes}
        stuck = 0.0
        for u, mass in pi.items():
            if not moves[u]:
                stuck += mass  # nowhere to go: restart
                continue
            for v, p in moves[u]:
                nxt[v] += DAMPING * mass * p
        for v in nodes:
            nxt[v] += DAMPING * stuck * restart[v]
        delta = sum(abs(nxt[v] - pi[v]) for v in nodes)
        pi = nxt
        if delta < _TOLERANCE:
            break
    top = max(pi.values())
    return {v: p / top for v, p in pi.items()} if top > 0 else {}


def rank_places(places: Mapping[Entity, Place], g: Graph,
                alerts: Iterable[Entity]) -> dict[Entity, float]:
    """Walk over the places found anomalous, those the victim rule left as their own trouble
    weighing their callees less (walk_ranks' `own`), and those whose anomaly began after the
    alert fired weighing AFTER_ALERT_FACTOR of their anomaly."""
    own = [e for e, p in places.items() if p.victim_of is None and p.anomaly >= WEAK]
    late = AFTER_ALERT_FACTOR
    return walk_ranks({e: p.anomaly * (late if p.late else 1.0) for e, p in places.items()},
                      g, alerts, own)


def _leads(a: Mapping[Entity, float], g: Graph) -> dict[Entity, float]:
    """Return how strongly each place leads towards anomaly: its own, or a deeper place's
    discounted by PASS per hop, so the walker crosses callers too quiet to score (a caller
    whose few requests hide the rise) on its way to the anomalous place below them."""
    lead = dict(a)
    for _ in range(_DEPTH):
        lead = {v: max(a[v], PASS * max((lead[c] for c in g.callees.get(v, ())), default=0.0))
                for v in lead}
    return lead


def leader_below(ranks: Mapping[Entity, float], alerts: Iterable[Entity],
                 reach: Mapping[Entity, int]) -> Entity | None:
    """Return the place holding the most mass when it lies below the alerting place (the walk
    explains the alert along its own path), else None."""
    if not ranks:
        return None
    leader = max(sorted(ranks), key=lambda e: ranks[e])
    return None if leader in set(alerts) or leader not in reach else leader


OFF_PATH_FLOOR = 0.5  # what a place off the alert's path keeps when the walk ranks it last


def off_path_factor(ranks: Mapping[Entity, float], ent: Entity, alerts: Iterable[Entity],
                    reach: Mapping[Entity, int]) -> tuple[float, str]:
    """Weigh a place off the alert's path (not below it) by the walk, once the walk explains
    the alert from below.

    When the walk's mass pools at a place below the alerting one (the alert inherits that
    place's trouble), the alert is accounted for along its own call path, and trouble off that
    path is less likely to be why it fired: such a place keeps OFF_PATH_FLOOR plus the rest in
    proportion to its own walk rank. While the alerting place itself holds the most mass,
    nothing below explains it, and the alert may fire on the wrong service: places off its
    path keep their weight.
    """
    leader = leader_below(ranks, alerts, reach)
    if leader is None or ent in reach:
        return 1.0, ""
    own = ranks.get(ent, 0.0)
    return (OFF_PATH_FLOOR + (1 - OFF_PATH_FLOOR) * own,
            f"off the alert's path, which the walk explains from {leader[1]} below it")
