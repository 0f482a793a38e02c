"""The personalised random walk over the anomaly-weighted call graph (walk.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from warroom.agents.diagnostician import localise, walk
from warroom.agents.diagnostician.anomaly import score_all, split_time
from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.localise import gather
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.agents.diagnostician.topology import Graph
from warroom.agents.diagnostician.walk import OFF_PATH_FLOOR, off_path_factor, walk_ranks
from warroom.sensors.models import AlertView, EvidenceSnapshot, Series

from .diag_builders import NOW, logs, snapshot
from .test_localise import CHAIN, coarse, entry_alert


def place(name: str) -> Entity:
    return ("", name)


def chain_graph(names: list[str]) -> Graph:
    g = Graph()
    for a, b in zip(names, names[1:], strict=False):
        g.add(place(a), place(b))
    return g


def test_the_walk_pools_at_the_deepest_anomalous_callee() -> None:
    # entry -> b -> c -> d, all four anomalous (the callers inherit d's trouble), plus a
    # noisy place nothing on the path calls
    g = chain_graph(["entry", "b", "c", "d"])
    g.add(place("d"), place("quiet"))
    anomaly = {place("entry"): 0.9, place("b"): 0.7, place("c"): 0.7, place("d"): 0.8,
               place("noisy"): 0.9}
    ranks = walk_ranks(anomaly, g, [place("entry")])
    assert max(ranks, key=lambda e: ranks[e]) == place("d")
    assert ranks[place("d")] > ranks[place("noisy")]
    assert ranks[place("quiet")] == 0.0


def test_the_walk_crosses_callers_too_quiet_to_score() -> None:
    # only the place three hops below the alert moved; the callers between (a handful of
    # requests each) show nothing a score can see. A noisy unconnected place moved more.
    g = chain_graph(["entry", "b", "c", "d"])
    ranks = walk_ranks({place("d"): 0.5, place("noisy"): 0.9}, g, [place("entry")])
    assert max(ranks, key=lambda e: ranks[e]) == place("d")
    assert ranks[place("b")] > 0.0  # the walker passed through


def test_an_alert_whose_trouble_nothing_below_explains_keeps_the_walk() -> None:
    # the alert moved more than a place far below it, and the victim rule found that place
    # does not account for the alert's symptoms: the walker mostly stays at the alert
    g = chain_graph(["entry", "b", "c", "d"])
    anomaly = {place("entry"): 0.9, place("d"): 0.8}
    follows = walk_ranks(anomaly, g, [place("entry")])
    assert max(follows, key=lambda e: follows[e]) == place("d")
    stays = walk_ranks(anomaly, g, [place("entry")], own=[place("entry"), place("d")])
    assert max(stays, key=lambda e: stays[e]) == place("entry")


def test_an_alert_more_anomalous_than_everything_it_calls_keeps_the_walk() -> None:
    g = chain_graph(["entry", "b", "c"])
    ranks = walk_ranks({place("entry"): 0.9, place("c"): 0.1}, g, [place("entry")])
    assert max(ranks, key=lambda e: ranks[e]) == place("entry")


def test_nothing_anomalous_gives_no_ranks() -> None:
    assert walk_ranks({}, chain_graph(["entry", "b"]), [place("entry")]) == {}


def test_off_path_places_keep_their_weight_unless_the_walk_explains_the_alert() -> None:
    reach = {place("entry"): 0, place("b"): 1}
    below = {place("entry"): 0.4, place("b"): 1.0, place("far"): 0.2}
    factor, why = off_path_factor(below, place("far"), [place("entry")], reach)
    assert factor == OFF_PATH_FLOOR + (1 - OFF_PATH_FLOOR) * 0.2 and "b below it" in why
    at_alert = {place("entry"): 1.0, place("b"): 0.3, place("far"): 0.2}
    assert off_path_factor(at_alert, place("far"), [place("entry")], reach) == (1.0, "")
    # a place on the path (below the alert) is never weighed down
    assert off_path_factor(below, place("b"), [place("entry")], reach) == (1.0, "")


def _stamp(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_exceptions_off_the_alerts_path_lose_to_the_callee_that_explains_it() -> None:
    # the entry alert's latency is inherited three hops down: the deepest callee's CPU and
    # latency rose. Meanwhile a service nothing on that path calls starts logging a new
    # exception. The walk explains the alert from below, so the exception is not the answer.
    slow = [0.30, 0.32, 1.5, 1.7, 1.6]
    series = [coarse("service:latency_seconds:p99_1m", svc, slow) for svc in CHAIN]
    series.append(coarse("process_cpu_utilization", CHAIN[3], [0.2, 0.22, 0.9, 0.93, 0.92]))
    series += [coarse("service:latency_seconds:p99_1m", "ledger", [0.2, 0.21, 0.2, 0.2, 0.21])]
    lines = [f"{_stamp(40 - i)} INFO posted entry {i}" for i in range(30)]
    lines += [f"{_stamp(8 - i * 0.5)} ERROR Exception in request handler: "
              f"java.lang.IllegalStateException: ledger {i} out of balance" for i in range(10)]
    report = diagnose_snapshot(snapshot(
        series=series, topology=list(zip(CHAIN, CHAIN[1:], strict=False)),
        alerts=[entry_alert()], logs=[logs("", "ledger-7f9dd8b6c4-aaaaa", lines)]))
    top = report.hypotheses[0]
    assert top.service == CHAIN[3]
    ledger = [h for h in report.hypotheses if h.service == "ledger"]
    assert ledger and "off the alert's path" in ledger[0].evidence[-1]


def test_a_weak_rise_on_the_alerts_path_outranks_a_busier_unconnected_place() -> None:
    # the entry alert inherits a small error rise from three hops down (the callers' rise
    # is smaller still); a service nothing on that path calls doubled its CPU. The walk
    # pools at the deepest place on the path, and ranks it above the busier stranger.
    series = [coarse("service:errors:ratio_rate1m", svc, [0.0, 0.0, 0.03, 0.035, 0.03])
              for svc in CHAIN[:3]]
    series.append(coarse("service:errors:ratio_rate1m", CHAIN[3], [0.0, 0.0, 0.04, 0.05, 0.045]))
    series.append(coarse("process_cpu_utilization", "batch", [0.3, 0.32, 0.6, 0.62, 0.61]))
    report = diagnose_snapshot(snapshot(
        series=series, topology=list(zip(CHAIN, CHAIN[1:], strict=False)),
        alerts=[entry_alert()]))
    assert report.hypotheses[0].service == CHAIN[3]
    assert report.abstain  # found by the method alone: ranked, never acted on


def _late_world(alert_minutes: float = 17) -> EvidenceSnapshot:
    """entry -> b -> c at five-minute steps; the entry alert fired 17 minutes ago. b's errors
    rose a little before it; c's latency rose far more, but only ten minutes after it fired
    (its demand fell earlier: its callers' doing, not when it went wrong)."""
    def six(name: str, svc: str, values: list[float]) -> Series:
        end = NOW.timestamp()
        return Series(metric={"__name__": name, "namespace": "", "service": svc},
                      values=[(end - 300 * (5 - i), f"{v:.6g}") for i, v in enumerate(values)])

    series = [six("service:errors:ratio_rate1m", "b", [0.0, 0.0, 0.045, 0.05, 0.048, 0.045]),
              six("service:latency_seconds:p99_1m", "c", [0.3, 0.31, 0.3, 0.3, 1.5, 1.6]),
              six("service:requests:rate1m", "c", [5.0, 5.1, 1.0, 1.1, 1.0, 1.0]),
              six("service:errors:ratio_rate1m", "entry", [0.0, 0.0, 0.03, 0.03, 0.035, 0.03])]
    alert = AlertView(status="firing", labels={"alertname": "EntryErrors", "service": "entry"},
                      starts_at=NOW - timedelta(minutes=alert_minutes))
    return snapshot(series=series, topology=[("entry", "b"), ("b", "c")], alerts=[alert])


def test_a_place_that_went_wrong_after_the_alert_fired_is_not_why_it_fired(
        monkeypatch: pytest.MonkeyPatch) -> None:
    report = diagnose_snapshot(_late_world())
    assert report.hypotheses[0].service == "b"
    c = [h for h in report.hypotheses if h.service == "c"]
    assert not c or c[0].confidence < report.hypotheses[0].confidence
    # without the rule, the bigger but later trouble below would win
    monkeypatch.setattr(localise, "AFTER_ALERT_FACTOR", 1.0)
    monkeypatch.setattr(walk, "AFTER_ALERT_FACTOR", 1.0)
    assert diagnose_snapshot(_late_world()).hypotheses[0].service == "c"


def test_only_places_still_normal_after_the_alert_fired_are_late() -> None:
    ix = Index.build(_late_world())
    places = gather(score_all(ix), {}, {}, split_time(ix))
    assert places[("", "c")].late and not places[("", "b")].late
    # an alert that fired before any series began (a stale one): nothing was seen before it
    stale = Index.build(_late_world(alert_minutes=60))
    assert not any(p.late for p in gather(score_all(stale), {}, {}, split_time(stale)).values())
