"""Fault typing from the pattern of what moved, on hand-made places with no fingerprint."""

from __future__ import annotations

from datetime import timedelta

from warroom.agents.diagnostician.anomaly import score_all
from warroom.agents.diagnostician.faulttype import resourced, switched_off, type_fault
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.localise import Place, gather
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.agents.diagnostician.templates import TemplateShift
from warroom.sensors.models import AlertView, EvidenceSnapshot, Series

from .diag_builders import NOW, change, deployment, logs, pod, snapshot

PLACE = "billing_AWS::ECS::Task"
CALLER = "edge_router"
CALLEE = "quotes_AWS::Lambda::Function"


def five_minute(name: str, svc: str, values: list[float]) -> Series:
    """Return a coarse series (five-minute steps, two baseline samples) of a place."""
    end = NOW.timestamp()
    return Series(metric={"__name__": name, "namespace": "", "service": svc},
                  values=[(end - 300 * (len(values) - 1 - i), f"{v:.6g}")
                          for i, v in enumerate(values)])


def calm() -> dict[str, list[float]]:
    return {"service:errors:ratio_rate1m": [0.0, 0.0, 0.001, 0.0, 0.0],
            "service:latency_seconds:p90_1m": [0.20, 0.21, 0.20, 0.22, 0.21],
            "service:requests:rate1m": [4.0, 4.2, 4.1, 3.9, 4.0]}


def build(own: dict[str, list[float]], alert_minutes: float = 12) -> EvidenceSnapshot:
    """A caller, the place under test and its callee; only the place's series are overridden."""
    series = []
    for svc in (CALLER, PLACE, CALLEE):
        values = calm()
        if svc == PLACE:
            values.update(own)
        series += [five_minute(name, svc, vals) for name, vals in values.items()]
    alert = AlertView(status="firing", labels={"alertname": "EdgeAvailability",
                                               "service": CALLER},
                      starts_at=NOW - timedelta(minutes=alert_minutes))
    return snapshot(series=series, topology=[(CALLER, PLACE), (PLACE, CALLEE)],
                    alerts=[alert])


def typed(own: dict[str, list[float]]) -> str:
    """Type the place under test from its own series alone."""
    ix = Index.build(build(own))
    place = gather(score_all(ix), {}, {})[("", PLACE)]
    return type_fault(ix, place, resourced(ix))[0]


def test_errors_that_switched_on_and_off_again_are_a_toggled_setting() -> None:
    pulse = {"service:errors:ratio_rate1m": [0.0, 0.0, 0.2, 0.22, 0.0]}
    assert typed(pulse) == "config_error"
    report = diagnose_snapshot(build(pulse))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == (PLACE, "config_error")
    assert any("switched on and off again" in e for e in top.evidence)


def test_latency_that_switched_off_again_is_a_toggled_setting_too() -> None:
    assert typed({"service:latency_seconds:p90_1m": [0.2, 0.21, 0.9, 0.95, 0.2]}) == \
        "config_error"


def test_errors_that_stay_are_an_application_error() -> None:
    assert typed({"service:errors:ratio_rate1m": [0.0, 0.0, 0.2, 0.22, 0.21]}) == \
        "application_error"


def test_one_sample_off_baseline_is_not_a_switch() -> None:
    ix = Index.build(build({"service:errors:ratio_rate1m": [0.0, 0.0, 0.0, 0.3, 0.0]}))
    signals = [s for s in score_all(ix) if s.entity == ("", PLACE)]
    assert not switched_off(signals)


def test_a_missed_scrape_beside_a_one_sample_excursion_does_not_veto_a_switch() -> None:
    # the latency was off for two samples and is back; the errors' first off sample was never
    # scraped, so their one off sample may have lasted as long: unknown, not "it flickered"
    snap = build({"service:latency_seconds:p90_1m": [0.2, 0.21, 0.9, 0.95, 0.2],
                  "service:errors:ratio_rate1m": [0.0, 0.0, 0.0, 0.2, 0.0]})
    for s in snap.series:
        if s.metric["service"] == PLACE and s.name == "service:errors:ratio_rate1m":
            s.values.pop(2)
    signals = [s for s in score_all(Index.build(snap)) if s.entity == ("", PLACE)]
    errors = next(s for s in signals if s.kind == "errors")
    assert errors.score >= 0.3 and errors.recovered is None  # moved clearly: it would veto
    assert switched_off(signals)


def test_slower_with_resources_seen_flat_is_network_latency() -> None:
    slow = {"service:latency_seconds:p90_1m": [0.2, 0.21, 0.9, 0.95, 0.92],
            "process_cpu_utilization": [0.3, 0.31, 0.3, 0.32, 0.3]}
    assert typed(slow) == "network_latency"


def test_slower_with_no_resource_series_is_not_blamed_on_the_network() -> None:
    assert typed({"service:latency_seconds:p90_1m": [0.2, 0.21, 0.9, 0.95, 0.92]}) == \
        "application_error"


def test_cpu_up_with_demand_flat_is_saturation_and_with_demand_up_a_surge() -> None:
    cpu = {"process_cpu_utilization": [0.2, 0.22, 0.97, 0.99, 0.98]}
    assert typed(cpu) == "cpu_saturation"
    assert typed({**cpu, "service:requests:rate1m": [4.0, 4.1, 12.0, 13.0, 12.5]}) == \
        "traffic_surge"


def test_heap_growth_is_memory_and_a_steady_climb_a_leak() -> None:
    assert typed({"jvm_heap_used_ratio": [0.3, 0.31, 0.8, 0.82, 0.81]}) == \
        "memory_limit_too_low"
    climb = [0.3 + 0.1 * i for i in range(7)]
    assert typed({"container_memory_ratio": climb,
                  "service:errors:ratio_rate1m": [0.0] * 7,
                  "service:latency_seconds:p90_1m": [0.2] * 7,
                  "service:requests:rate1m": [4.0] * 7}) == "memory_leak"


def test_slower_with_memory_killed_at_its_limit_and_climbing_again_is_a_leak() -> None:
    # five-minute samples of a sawtooth: no steady climb to see, no baseline to leave, but a
    # fall from its limit (a kill) and the climb that follows
    slow = {"service:latency_seconds:p90_1m": [0.2, 0.21, 0.9, 0.95, 0.92]}
    sawtooth = [0.73, 0.9, 0.52, 0.56, 0.73]
    assert typed({**slow, "container_memory_working_set_ratio": sawtooth}) == "memory_leak"
    # a fall that is not from its limit (a garbage collection, a smaller rollout) or that
    # stays down (a restart that fixed it) says nothing of a leak
    assert typed({**slow, "container_memory_working_set_ratio": [0.6, 0.7, 0.4, 0.45, 0.6]}
                 ) == "network_latency"
    assert typed({**slow, "container_memory_working_set_ratio": [0.7, 0.9, 0.4, 0.4, 0.4]}
                 ) == "network_latency"


def test_retransmissions_up_are_network_latency_even_with_errors() -> None:
    assert typed({"node_netstat_tcp_retransmissions_ratio": [0.001, 0.001, 0.2, 0.25, 0.22],
                  "service:errors:ratio_rate1m": [0.0, 0.0, 0.2, 0.22, 0.21]}) == \
        "network_latency"


def test_new_error_templates_keep_a_switched_off_pulse_an_application_error() -> None:
    ix = Index.build(build({"service:errors:ratio_rate1m": [0.0, 0.0, 0.2, 0.22, 0.0]}))
    shift = TemplateShift(entity=("", PLACE), template="NullPointerException at <*>",
                          before=0, after=12, error=True, surprise=8.0,
                          example="NullPointerException at Billing.total")
    place = gather(score_all(ix), {("", PLACE): (0.8, shift)}, {})[("", PLACE)]
    assert type_fault(ix, place)[0] == "application_error"


def test_a_data_store_is_typed_by_what_it_is_before_the_shape() -> None:
    ix = Index.build(build({}))
    store = Place(("", "ledger-db"))
    assert type_fault(ix, store)[0] == "database_saturation"


def test_an_oomkilled_pod_wins_over_the_pattern() -> None:
    ns, name = "shop", "cart"
    objects = [*deployment(ns, name),
               pod(ns, f"{name}-7f9dd8b6c4-abcde", ("ReplicaSet", f"{name}-7f9dd8b6c4"),
                   restarts=5, state={"waiting": {"reason": "CrashLoopBackOff"}},
                   last={"reason": "OOMKilled", "exitCode": 137,
                         "finishedAt": (NOW - timedelta(minutes=2)).isoformat()})]
    end = NOW.timestamp()
    pulse = Series(metric={"__name__": "service:errors:ratio_rate1m", "namespace": ns,
                           "service": name},
                   values=[(end - 300 * (4 - i), v)
                           for i, v in enumerate(["0", "0", "0.3", "0.3", "0"])])
    alert = AlertView(status="firing", labels={"alertname": "Errors", "namespace": ns,
                                               "service": name},
                      starts_at=NOW - timedelta(minutes=12))
    report = diagnose_snapshot(snapshot(
        objects=objects, series=[pulse], alerts=[alert],
        logs=[logs(ns, f"{name}-7f9dd8b6c4-abcde", ["starting"])]))
    assert report.hypotheses[0].fault == "memory_limit_too_low"


def test_a_config_edit_named_after_the_failing_place_types_it_without_objects() -> None:
    broken = build({"service:errors:ratio_rate1m": [0.0, 0.0, 0.3, 0.32, 0.31]})
    edited = broken.model_copy(update={"changes": [
        change("config", f"/configmap/{PLACE}-settings", 20, "timeout removed")]})
    top = diagnose_snapshot(edited).hypotheses[0]
    assert (top.service, top.fault) == (PLACE, "config_error")


def test_a_flickering_noisy_series_is_not_a_switch() -> None:
    flicker = [0.0, 0.0, 0.0, 0.3, 0.0, 0.3, 0.3, 0.0, 0.3, 0.3, 0.0]
    calm_rest = {"service:latency_seconds:p90_1m": [0.2] * 11,
                 "service:requests:rate1m": [4.0] * 11}
    # the alert 42 minutes ago: eight samples after it, flickering on and off
    ix = Index.build(build({"service:errors:ratio_rate1m": flicker, **calm_rest}, 42))
    signals = [s for s in score_all(ix) if s.entity == ("", PLACE)]
    assert not switched_off(signals)


def test_a_weak_pulse_is_judged_by_what_moved_the_most() -> None:
    # every symptom is weak (below 0.3): the strongest of them still says whether it switched
    # off again
    weak = {"service:errors:ratio_rate1m": [0.0, 0.0, 0.045, 0.05, 0.0]}
    ix = Index.build(build(weak))
    signals = [s for s in score_all(ix) if s.entity == ("", PLACE) and s.score > 0]
    assert signals and max(s.score for s in signals) < 0.3
    assert switched_off(signals)
    stays = {"service:errors:ratio_rate1m": [0.0, 0.0, 0.045, 0.05, 0.048]}
    ix2 = Index.build(build(stays))
    assert not switched_off([s for s in score_all(ix2) if s.entity == ("", PLACE)])
