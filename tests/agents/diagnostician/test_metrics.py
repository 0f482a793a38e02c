"""Metric anomaly scoring: robust z-score against the series' own baseline, onset, shapes."""

from __future__ import annotations

from datetime import timedelta

from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.metrics import (
    USUAL,
    compute_stats,
    metric_findings,
    series_stat,
    symptoms,
)

from .diag_builders import NOW, deployment, flat, pod, series, snapshot, stepped


def test_step_up_scores_high_and_dates_its_onset() -> None:
    st = series_stat(series("x", stepped(0.2, 1.0, at=30)), ("ns", "svc"), "", NOW.timestamp())
    assert st is not None
    assert st.z > 10 and st.ratio > 4
    assert st.onset == NOW - timedelta(minutes=9)  # index 30 of 40, one-minute steps


def test_noise_is_not_an_anomaly_and_short_series_are_not_judged() -> None:
    st = series_stat(series("x", flat(0.2, jitter=0.04)), ("ns", "svc"), "", NOW.timestamp())
    assert st is not None and abs(st.z) < 3 and st.onset is None
    assert series_stat(series("x", [1, 2, 3]), ("ns", "svc"), "", NOW.timestamp()) is None


def test_a_quantile_jumping_between_buckets_dates_its_onset_where_it_stays_up() -> None:
    # a p99 interpolated in histogram buckets reaches the next bucket now and then before
    # the change, and stays there after it
    vals = [0.1] * 30 + [0.24] * 10
    for i in (4, 9, 13, 18, 22, 27):
        vals[i] = 0.23
    st = series_stat(series("x", vals), ("ns", "svc"), "", NOW.timestamp())
    assert st is not None
    assert st.onset == NOW - timedelta(minutes=9)  # index 30, not the jumps before it


def test_a_single_outlier_does_not_set_an_onset() -> None:
    vals = flat(0.2)
    vals[25] = 5.0
    st = series_stat(series("x", vals), ("ns", "svc"), "", NOW.timestamp())
    assert st is not None and st.onset is None


def _findings(name: str, values: list[float]) -> list[str]:
    objects = [*deployment("shop", "cart"),
               pod("shop", "cart-7f9dd8b6c4-aaaaa", ("ReplicaSet", "cart-7f9dd8b6c4"))]
    snap = snapshot(objects=objects, series=[
        series(name, values, namespace="shop", pod="cart-7f9dd8b6c4-aaaaa", container="cart")])
    return [f"{f.service}:{f.fault}" for f in metric_findings(compute_stats(Index.build(snap)))]


def test_steady_growth_is_a_leak_but_a_late_step_is_not() -> None:
    ramp = [0.4 + 0.57 * i / 39 for i in range(40)]
    assert "cart:memory_leak" in _findings("pod:memory_working_set:ratio", ramp)
    step = _findings("pod:memory_working_set:ratio", stepped(0.5, 0.97, at=32))
    assert "cart:memory_leak" not in step and "cart:memory_limit_too_low" in step


def test_sawtooth_after_restarts_is_a_leak() -> None:
    saw = [0.35 + 0.65 * ((i + 3) % 15) / 14 for i in range(40)]
    assert "cart:memory_leak" in _findings("pod:memory_working_set:ratio", saw)


def test_cpu_pinned_at_its_limit_is_saturation_and_pod_maps_to_deployment() -> None:
    assert _findings("pod:cpu_usage:ratio", stepped(0.3, 0.99)) == ["cart:cpu_saturation"]
    assert _findings("pod:cpu_usage:ratio", flat(0.3)) == []
    # pinned over the newest samples only: saturated now, though the recent median is not
    assert _findings("pod:cpu_usage:ratio", stepped(0.02, 0.99, at=38)) == ["cart:cpu_saturation"]
    # one sample at the limit is no level reached
    assert _findings("pod:cpu_usage:ratio", stepped(0.02, 0.99, at=39)) == []


def test_expired_certificate_and_full_volume() -> None:
    snap = snapshot(series=[
        series("probe:ssl_expiry_seconds", [(10 - i) * 60.0 for i in range(40)],
               namespace="pay", service="payments"),
        series("pvc:usage:ratio", stepped(0.6, 0.99), namespace="data",
               persistentvolumeclaim="data-orders-db-0")],
        objects=[{"kind": "StatefulSet", "metadata": {"name": "orders-db", "namespace": "data"}}])
    found = {(f.service, f.fault) for f in metric_findings(compute_stats(Index.build(snap)))}
    assert ("payments", "certificate_expired") in found
    assert ("orders-db", "disk_pressure") in found


def test_a_p99_at_a_level_its_baseline_reached_often_is_no_symptom() -> None:
    # few requests a minute: the p99 jumps between histogram buckets; the recent third sits
    # on the upper bucket more often, but the baseline was there one sample in four
    jumpy = [0.025 if i % 4 == 1 else 0.01 for i in range(30)] + [0.025, 0.01] * 5
    stats = compute_stats(Index.build(snapshot(series=[
        series("service:latency_seconds:p99_1m", jumpy, namespace="shop", service="few")])))
    assert stats and stats[0].ratio >= 1.5 and stats[0].significance < USUAL
    assert symptoms(stats) == {}
    rare = [0.01] * 30 + [0.025, 0.03] * 5
    stats2 = compute_stats(Index.build(snapshot(series=[
        series("service:latency_seconds:p99_1m", rare, namespace="shop", service="few")])))
    assert ("shop", "few") in symptoms(stats2)


def test_demand_that_starts_from_nothing_is_no_surge_but_a_doubling_is() -> None:
    # a place served a request every few minutes (its baseline median is zero): a few a minute
    # now is sparse traffic, not a multiple of anything
    sparse = [0.0 if i % 3 else 0.13 for i in range(30)] + [0.13, 0.27, 0.13, 0.2] * 2 + [0.2, 0.13]
    busy = stepped(5.0, 12.0, at=30)
    stats = compute_stats(Index.build(snapshot(series=[
        series("service:requests:rate1m", sparse, namespace="shop", service="idle"),
        series("service:requests:rate1m", busy, namespace="shop", service="busy")])))
    surges = {f.service for f in metric_findings(stats) if f.fault == "traffic_surge"}
    assert surges == {"busy"}


def test_a_service_reporting_only_p95_shows_its_latency_symptom_by_its_highest_tail() -> None:
    # the scenario format allows :p95_1m beside (or instead of) :p99_1m; a median says little
    # of a tail, so with p50 and p95 the symptom is read from p95, and p99 wins where it exists
    def named(names: list[str]) -> dict[tuple[str, str], list[str]]:
        return symptoms(compute_stats(Index.build(snapshot(series=[
            series(n, stepped(0.2, 0.9), namespace="shop", service="cart") for n in names]))))

    only_p95 = named(["service:latency_seconds:p50_1m", "service:latency_seconds:p95_1m"])
    assert [t.split(":")[1].split()[0] for t in only_p95[("shop", "cart")]] == ["p95"]
    both = named(["service:latency_seconds:p95_1m", "service:latency_seconds:p99_1m"])
    assert [t.split(":")[1].split()[0] for t in both[("shop", "cart")]] == ["p99"]
    assert named(["service:latency_seconds:p50_1m"]) == {}


def test_a_pod_round_trip_measured_at_p95_is_read_like_p99() -> None:
    found = _findings("pod:network_latency_seconds:p95_1m", stepped(0.002, 0.25))
    assert found == ["cart:network_latency"]


def test_a_fingerprint_series_is_placed_as_the_anomaly_method_places_it() -> None:
    # a database instance known only by `dbinstance_identifier`, a service only by `app`: the
    # fingerprint rules read them at the same place as every other series
    db = {"namespace": "", "dbinstance_identifier": "orders-prod"}
    snap = snapshot(series=[series("db:connections:ratio", stepped(0.3, 0.97, at=30), **db),
                            series("pod:cpu_usage:ratio", flat(0.4), namespace="shop",
                                   app="cart")])
    placed = {(st.name, st.entity) for st in compute_stats(Index.build(snap))}
    assert placed == {("db:connections:ratio", ("", "orders-prod")),
                      ("pod:cpu_usage:ratio", ("shop", "cart"))}
    found = metric_findings(compute_stats(Index.build(snap)))
    assert [(f.service, f.fault) for f in found] == [("orders-prod", "database_saturation")]

