"""A call graph inferred when the snapshot carries none: sinks and the unmapped walk."""

from __future__ import annotations

from warroom.agents.diagnostician import rules
from warroom.agents.diagnostician.anomaly import score_all
from warroom.agents.diagnostician.correlation import comoving
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.inference import undirected_links, unmapped_links
from warroom.agents.diagnostician.localise import gather
from warroom.agents.diagnostician.logs import LogEvidence
from warroom.agents.diagnostician.topology import Graph
from warroom.agents.models import Hypothesis
from warroom.sensors.models import Series

from .diag_builders import alert, change, deployment, flat, pod, series, snapshot, ts
from .test_correlation import _step
from .test_localise import coarse


def _top_with_alert_on_entry(world: list[Series]) -> Hypothesis:
    """Diagnose a world with no call graph whose alert fires on `entry`; return hypothesis 1."""
    report = rules.diagnose_snapshot(snapshot(series=world,
                                              alerts=[alert({"service": "entry"})]))
    return report.hypotheses[0]


def test_a_data_store_moving_with_a_caller_is_the_callee_of_the_link() -> None:
    # both slow from the same minute, nothing else moved: the link has no direction of its
    # own, but a table calls none of the services it is linked to
    world = [series("service:latency_seconds:p99_1m", _step(0.2, 1.4, 31), namespace="",
                    service="entry"),
             series("service:latency_seconds:p99_1m", _step(0.05, 1.1, 31), namespace="",
                    service="orders_AWS::DynamoDB::Table")]
    top = _top_with_alert_on_entry(world)
    assert (top.service, top.fault) == ("orders_AWS::DynamoDB::Table", "database_saturation")


def test_without_a_call_graph_a_quiet_alert_over_a_failing_place_is_not_nothing_wrong() -> None:
    world = [series("service:errors:ratio_rate1m", flat(0.002), namespace="", service="entry"),
             series("service:latency_seconds:p99_1m", flat(0.2), namespace="", service="entry"),
             series("service:errors:ratio_rate1m", _step(0.002, 0.3, 31), namespace="",
                    service="contacts")]
    top = _top_with_alert_on_entry(world)
    assert (top.service, top.fault) == ("contacts", "application_error")
    assert "no topology to localise with" in top.evidence[-1]


def test_a_data_store_slow_from_the_same_sample_as_a_caller_is_its_callee() -> None:
    # five-minute samples: the caller climbs while the table steps, so their differences do
    # not correlate; they went slow from the same sample, and a table calls nobody
    world = [coarse("service:latency_seconds:p99_1m", "search_client",
                     [0.06, 0.06, 1.2, 2.7, 5.2]),
             coarse("service:latency_seconds:p99_1m", "pets_AWS::DynamoDB::Table",
                     [0.32, 0.36, 6.7, 9.9, 9.8])]
    snap = snapshot(series=world, alerts=[alert({"service": "search_client"}, minutes_ago=12)])
    ix = Index.build(snap)
    places = gather(score_all(ix), {}, {})
    assert comoving(ix, places) == {}
    links, sinks = undirected_links(ix, places)
    assert sinks == {("", "pets_AWS::DynamoDB::Table")}
    assert links[("", "search_client")] == {("", "pets_AWS::DynamoDB::Table")}
    report = rules.diagnose_snapshot(snap)
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("pets_AWS::DynamoDB::Table", "database_saturation")


def test_a_resolved_alert_without_a_call_graph_is_not_blamed_on_trouble_elsewhere() -> None:
    # the alert on a quiet place has resolved; another workload crash-loops, and with no
    # graph nothing ties it to the alert: it is another incident's, not this one's cause
    crashing = pod("shop", "ledger-7f9dd8b6c4-x7gr9", ("ReplicaSet", "ledger-7f9dd8b6c4"),
                   state={"waiting": {"reason": "CrashLoopBackOff"}}, restarts=6, ready=False,
                   last={"reason": "Error", "exitCode": 1, "finishedAt": ts(2)})
    world = [series("service:errors:ratio_rate1m", flat(0.002), namespace="shop",
                    service="media")]
    quiet = alert({"namespace": "shop", "service": "media"}, status="resolved")
    report = rules.diagnose_snapshot(snapshot(series=world, alerts=[quiet],
                                              objects=[*deployment("shop", "ledger"), crashing]))
    assert report.hypotheses[0].fault == "none"
    firing = alert({"namespace": "shop", "service": "media"})
    report = rules.diagnose_snapshot(snapshot(series=world, alerts=[firing],
                                              objects=[*deployment("shop", "ledger"), crashing]))
    assert report.hypotheses[0].service == "ledger"  # firing: it may well be below the alert
    # unless it has looped since long before (140 restarts, 5 minutes apart at most: 11 hours)
    looping = {**crashing, "status": {**crashing["status"], "containerStatuses": [
        {**crashing["status"]["containerStatuses"][0], "restartCount": 140}]}}
    report = rules.diagnose_snapshot(snapshot(series=world, alerts=[firing],
                                              objects=[*deployment("shop", "ledger"), looping]))
    assert (report.hypotheses[0].service, report.hypotheses[0].fault) == ("media", "none")


def _failing_together(entry_to: float, callee_to: float, *, slower: bool = False
                      ) -> list[Series]:
    """An entry and one other service failing from the same five-minute sample on, no graph;
    `slower`: the other one also got slow, as a service waiting on something would."""
    world = [coarse("service:errors:ratio_rate1m", "entry", [0.003, 0.003, 0.003, entry_to,
                                                            entry_to * 1.05]),
             coarse("service:latency_seconds:p99_1m", "entry", [0.40, 0.41, 0.39, 0.40, 0.41]),
             coarse("service:errors:ratio_rate1m", "pricing", [0.001, 0.002, 0.001, callee_to,
                                                              callee_to * 1.05])]
    if slower:
        world.append(coarse("service:latency_seconds:p99_1m", "pricing",
                            [0.10, 0.11, 0.10, 0.80, 0.82]))
    return world


def test_of_two_services_failing_together_the_one_failing_far_harder_is_the_callee() -> None:
    # five-minute samples, no graph, no logs: the entry fails 18% of its requests from the
    # sample the other service began to fail 60% of its own. A caller fails only the share
    # of its requests that reach the failing callee: the entry is the victim.
    top = _top_with_alert_on_entry(_failing_together(0.18, 0.6))
    assert (top.service, top.fault) == ("pricing", "application_error")
    assert "downstream of the alerting service" in top.evidence[-1]


def test_failing_about_as_hard_gives_a_link_no_direction() -> None:
    # a caller calling a failing callee several times per request can fail as often as it:
    # ratios this close say nothing about which calls which, and the alert keeps the blame
    top = _top_with_alert_on_entry(_failing_together(0.3, 0.45))
    assert top.service == "entry"


def test_a_slow_place_only_the_guess_puts_below_the_alert_is_not_acted_on() -> None:
    # the failing service was deployed before it failed, and it got slow: it may be waiting
    # on an outside host nothing observes. Named first, but not rolled back on a guess.
    world = _failing_together(0.18, 0.6, slower=True)
    deploy = change("deploy", "/deployment/pricing", 14, "image pricing:2.1.0 -> 2.1.1")
    report = rules.diagnose_snapshot(snapshot(series=world, changes=[deploy],
                                              alerts=[alert({"service": "entry"})]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("pricing", "bad_deploy")
    assert report.abstain
    assert "placed below the alert by guess" in report.summary
    # failing fast, its own code broke: the same deploy is acted on
    fast = rules.diagnose_snapshot(snapshot(series=_failing_together(0.18, 0.6),
                                            changes=[deploy],
                                            alerts=[alert({"service": "entry"})]))
    assert (fast.hypotheses[0].service, fast.hypotheses[0].fault) == ("pricing", "bad_deploy")
    assert not fast.abstain


def test_a_call_graph_gains_only_the_dependencies_it_does_not_know() -> None:
    # a mesh's graph has its services but not the outside host one of them calls
    g = Graph()
    g.add(("shop", "entry"), ("shop", "orders"))
    logev = LogEvidence()
    logev.about[("", "api.stripe.com")]["timeout"].append((("shop", "orders"), "timed out"))
    logev.about[("shop", "orders")]["refused"].append((("shop", "entry"), "refused"))
    logev.about[("shop", "entry")]["refused"].append((("shop", "orders"), "refused"))
    assert unmapped_links(g, logev)
    assert g.callees == {("shop", "entry"): {("shop", "orders")},
                         ("shop", "orders"): {("", "api.stripe.com")}}
    assert not unmapped_links(g, logev)  # known now
