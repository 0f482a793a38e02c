"""A weak topology from co-movement when the snapshot carries no call graph."""

from __future__ import annotations

from warroom.agents.diagnostician import inference, rules
from warroom.agents.diagnostician.anomaly import score_all
from warroom.agents.diagnostician.correlation import comoving
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.localise import Place, gather
from warroom.agents.models import DiagnosisReport
from warroom.sensors.models import Series

from .diag_builders import alert, flat, series, snapshot


def _step(level: float, to: float, at: int, jitter: float = 0.01) -> list[float]:
    return [v if i < at else to * (1 + jitter * ((i * 3) % 3 - 1))
            for i, v in enumerate(flat(level))]


def _world() -> list[Series]:
    """An entry and the worker it calls, slow since minute 31; the worker's CPU rose at 29;
    a bystander wanders on its own. No call graph, no logs naming anyone."""
    return [series("service:latency_seconds:p99_1m", _step(0.2, 1.4, 31), service="entry"),
            series("service:latency_seconds:p99_1m", _step(0.1, 1.1, 31), service="worker"),
            series("process_cpu_utilization", _step(0.2, 0.97, 29), service="worker"),
            series("service:latency_seconds:p99_1m",
                   [0.1 + 0.05 * ((i * 5) % 7) for i in range(40)], service="bystander")]


def test_places_that_step_together_are_linked_and_noise_is_not() -> None:
    ix = Index.build(snapshot(series=_world()))
    places = gather(score_all(ix), {}, {})
    links = comoving(ix, places)
    assert ("", "worker") in links.get(("", "entry"), set())
    assert ("", "bystander") not in links
    assert comoving(ix, {("", "entry"): Place(("", "entry"), anomaly=0.1)}) == {}


def _diagnose(linked: bool) -> DiagnosisReport:
    original = inference.comoving
    if not linked:
        inference.comoving = lambda ix, places: {}
    try:
        return rules.diagnose_snapshot(snapshot(series=_world(),
                                                alerts=[alert({"service": "entry"})]))
    finally:
        inference.comoving = original


def test_a_caller_linked_by_co_movement_to_a_saturated_place_is_its_victim() -> None:
    top = _diagnose(linked=True).hypotheses[0]
    assert (top.service, top.fault) == ("worker", "cpu_saturation")
    entry = [h for h in _diagnose(linked=True).hypotheses if h.service == "entry"]
    alone = [h for h in _diagnose(linked=False).hypotheses if h.service == "entry"]
    assert entry and alone and entry[0].confidence < alone[0].confidence


def test_a_failing_resolver_that_moves_with_its_clients_takes_their_errors() -> None:
    # no call graph: the resolver is linked to its clients twice, as everyone's shared
    # dependency and by co-movement; the second link must not undo the first
    def failing(base: float, to: float) -> list[float]:
        return _step(base, to, 31, jitter=0.05)

    world = [series("service:errors:ratio_rate1m", failing(0.002, 0.5), namespace="",
                    service="storefront"),
             series("service:errors:ratio_rate1m", failing(0.002, 0.45), namespace="",
                    service="payments"),
             series("service:errors:ratio_rate1m", failing(0.004, 0.4), namespace="",
                    service="coredns_AWS::ECS::Service")]
    report = rules.diagnose_snapshot(snapshot(series=world,
                                              alerts=[alert({"service": "storefront"})]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("coredns_AWS::ECS::Service", "dns_failure")

