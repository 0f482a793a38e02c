"""Hop delays from logs joined by trace id: calls that started arriving late at one place.

When places log the trace id of the request they serve, one request's lines at a caller and at
its callee can be put in order. The gap from the caller's last line before the callee's first
one is the time the call took to arrive: the caller's own work before the call, the network, and
the callee's queue before it logged. Along a call edge that gap is usually steady (milliseconds).
When it grows to a large multiple of its usual value while the caller's calls to its other
callees still arrive on time, the time is lost on the way into that callee: its network (a
delay on its interface, a congested path) or its queue. The place is the callee, typed
`network_latency`; a callee whose CPU is saturated is typed by the metrics instead, which weigh
more.
"""

from __future__ import annotations

from collections import defaultdict

from warroom.agents.diagnostician.anomaly import split_time
from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.topology import Graph

MIN_HOPS = 4  # hops seen along an edge before its usual gap means anything
SLOW_GAP = 0.2  # seconds: a gap shorter than this is never a delay worth naming
SLOW_FACTOR = 10.0  # times the edge's usual gap
ONE_WEIGHT = 0.2  # one late call: a pause, or the start of a delay
MORE_WEIGHT = 0.3  # two late calls or more


def _hops(by_trace: dict[str, list[tuple[float, Entity]]], g: Graph
          ) -> dict[tuple[Entity, Entity], list[tuple[float, float]]]:
    """Return, per call edge, (arrival time, gap seconds) of each call seen in the logs."""
    hops: dict[tuple[Entity, Entity], list[tuple[float, float]]] = defaultdict(list)
    for found in by_trace.values():
        events = sorted(found)
        seen: set[Entity] = set()
        for (t0, a), (t1, b) in zip(events, events[1:], strict=False):
            if a != b and b not in seen and b in g.callees.get(a, ()):
                hops[(a, b)].append((t1, t1 - t0))  # the call's first line at the callee
            seen.add(a)
    return hops


def _usual(gaps: list[float]) -> float:
    """Return an edge's usual gap: its lower quartile, which late calls cannot drag up."""
    ordered = sorted(gaps)
    return ordered[len(ordered) // 4]


def hop_delay_findings(ix: Index, g: Graph,
                       by_trace: dict[str, list[tuple[float, Entity]]]) -> list[Finding]:
    """Name the callees whose incoming calls arrive late while their callers' others do not,
    from every place's lines per trace id (`traces.trace_events`).

    Only calls that arrived after the incident's anchor (shortly before the first alert) count
    as late: a delay long before it is not this incident's.
    """
    hops = _hops(by_trace, g)
    anchor = split_time(ix)
    late: dict[tuple[Entity, Entity], tuple[list[float], float]] = {}  # slow gaps, usual
    for edge, seen in hops.items():
        gaps = [gap for _, gap in seen]
        if len(gaps) < MIN_HOPS:
            continue
        usual = _usual(gaps)
        slow = [gap for at, gap in seen if gap >= SLOW_GAP
                and gap >= SLOW_FACTOR * max(usual, 1e-3) and (anchor is None or at >= anchor)]
        if slow:
            late[edge] = (slow, usual)
    out: list[Finding] = []
    for (caller, callee), (slow, usual) in sorted(late.items()):
        if any(a == caller and b != callee for a, b in late):
            continue  # its calls to others are late too: the caller's own side, not this edge
        others = sorted(b[1] for a, b in hops if a == caller and b != callee)
        weight = ONE_WEIGHT if len(slow) == 1 else MORE_WEIGHT
        text = (f"logs joined by trace id: {len(slow)} call(s) from {caller[1]} took "
                f"{max(slow):.2f} s to arrive at {callee[1]} (usually {usual * 1000:.0f} ms)")
        if others:
            text += f"; its calls to {', '.join(others[:3])} arrived on time"
        out.append(Finding(callee[0], callee[1], "network_latency", weight, text,
                           source="logs"))
    return out
