"""Hop delays: logs joined by trace id show calls arriving late at one callee."""

from __future__ import annotations

from datetime import timedelta

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.hops import hop_delay_findings
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.agents.diagnostician.topology import Graph
from warroom.agents.diagnostician.traces import trace_events
from warroom.sensors.models import LogStream

from .diag_builders import NOW, alert, logs, snapshot

EDGES = [("orders", "stock"), ("orders", "prices")]


def _calls(delays: dict[str, list[tuple[float, float]]]) -> list[LogStream]:
    """One trace per call: the caller logs, then the callee logs `gap` seconds later.

    `delays` maps a callee to (minutes ago, gap seconds) of each call to it.
    """
    lines: dict[str, list[str]] = {"orders": [], "stock": [], "prices": []}
    n = 0
    for callee, calls in delays.items():
        for minutes_ago, gap in calls:
            n += 1
            trace = f"{n:032x}"
            sent = NOW - timedelta(minutes=minutes_ago)
            back = sent + timedelta(seconds=gap + 0.002)  # the caller logs the answer
            for who, at in (("orders", sent), (callee, sent + timedelta(seconds=gap)),
                            ("orders", back)):
                lines[who].append(f"{at:%Y-%m-%dT%H:%M:%S.%f}Z INFO TraceID: {trace} "
                                  f"handling request {n}")
    return [logs("shop", f"{who}-7f9dd8b6c4-aaaaa", sorted(found))
            for who, found in lines.items()]


def _findings(delays: dict[str, list[tuple[float, float]]]) -> list[Finding]:
    snap = snapshot(logs=_calls(delays), topology=EDGES,
                    alerts=[alert({"namespace": "shop", "service": "orders"}, minutes_ago=8)])
    ix = Index.build(snap)
    return hop_delay_findings(ix, Graph.build(ix, "shop"), trace_events(ix))


USUAL = [(30 - i, 0.006 + 0.001 * (i % 3)) for i in range(8)]  # before the alert, ~7 ms


def test_calls_arriving_late_at_one_callee_are_its_network() -> None:
    late = [(5, 2.1), (4, 3.4), (3, 2.8)]
    (found,) = _findings({"stock": USUAL + late, "prices": USUAL + [(4, 0.007), (3, 0.006)]})
    assert (found.service, found.fault, found.weight) == ("stock", "network_latency", 0.3)
    assert "3 call(s) from orders took 3.40 s" in found.evidence
    assert "its calls to prices arrived on time" in found.evidence


def test_one_late_call_is_weaker() -> None:
    (found,) = _findings({"stock": USUAL + [(4, 1.5), (3, 0.007)], "prices": USUAL})
    assert found.weight == 0.2


def test_late_calls_everywhere_are_the_callers_own_side() -> None:
    late = [(5, 2.1), (4, 3.4)]
    assert _findings({"stock": USUAL + late, "prices": USUAL + late}) == []


def test_a_delay_long_before_the_alert_and_a_steady_slow_edge_say_nothing() -> None:
    earlier = [(25, 2.0), (24, 2.5)]  # late calls well before the incident's anchor
    steady = [(20 - i, 0.9) for i in range(6)]  # always ~0.9 s: its usual, not a delay
    assert _findings({"stock": USUAL + earlier, "prices": steady}) == []


def test_without_a_call_graph_the_nested_lines_give_the_late_edge() -> None:
    late = [(5, 2.1), (4, 3.4), (3, 2.8)]
    snap = snapshot(logs=_calls({"stock": USUAL + late, "prices": USUAL + [(4, 0.007)]}),
                    alerts=[alert({"namespace": "shop", "service": "orders"}, minutes_ago=8)])
    top = diagnose_snapshot(snap).hypotheses[0]
    assert (top.service, top.fault) == ("stock", "network_latency")
    assert "3 call(s) from orders took 3.40 s" in top.evidence[0]
