from __future__ import annotations

from datetime import timedelta

import pytest

from warroom.agents.diagnostician.anomaly import (
    kind_of,
    place_of,
    precedent,
    score_all,
    score_series,
    significance,
)
from warroom.agents.diagnostician.index import Index
from warroom.sensors.models import Series

from .diag_builders import NOW, alert, flat, series, snapshot, stepped


def coarse(name: str, values: list[float], **labels: str) -> Series:
    """Return a five-minute-step series ending at NOW."""
    end = NOW.timestamp()
    n = len(values)
    return Series(metric={"__name__": name, **labels},
                  values=[(end - 300 * (n - 1 - i), f"{v:.6g}") for i, v in enumerate(values)])


ANCHOR = (NOW - timedelta(minutes=12)).timestamp()  # between the 2nd and 3rd coarse sample


def test_two_baseline_samples_at_five_minute_steps_are_enough() -> None:
    s = coarse("service:errors:ratio_rate1m", [0.0, 0.0, 0.2, 0.22, 0.19], service="fn")
    sig = score_series(s, ("", "fn"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.baseline_points == 2
    assert sig.score > 0.8 and sig.kind == "errors" and sig.onset is not None
    calm = coarse("service:errors:ratio_rate1m", [0.0, 0.0, 0.004, 0.0, 0.003], service="fn")
    quiet = score_series(calm, ("", "fn"), ANCHOR, NOW.timestamp())
    assert quiet is not None and quiet.score == 0.0


def test_direction_follows_the_kind_of_series() -> None:
    assert kind_of("aws_rds_free_storage_space_bytes_minimum") == "free"
    assert kind_of("http_request_duration_seconds") == "latency"
    assert kind_of("container_cpu_cfs_throttled_periods_total") == "saturation"
    falling_free = coarse("node_memory_available_bytes", [8e9, 8.1e9, 2e9, 1.5e9, 1e9],
                          instance="db-host:9100")
    sig = score_series(falling_free, ("", "db-host"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.score > 0.5
    # latency that fell is good news, not an anomaly
    faster = coarse("checkout_latency_ms", [200, 210, 90, 80, 85], service="checkout")
    sig2 = score_series(faster, ("", "checkout"), ANCHOR, NOW.timestamp())
    assert sig2 is not None and sig2.score == 0.0


@pytest.mark.parametrize(("name", "kind"), [
    # CloudWatch's and Datadog's CamelCase, and separators other than `_`, read as words
    ("TargetResponseTime", "latency"), ("ApproximateAgeOfOldestMessage", "latency"),
    ("HTTPCode_Target_5XX_Count", "errors"), ("CPUUtilization", "saturation"),
    ("ConsumedReadCapacityUnits", "saturation"), ("FreeableMemory", "free"),
    ("latency-90", "latency"), ("mem.used", "saturation"),
    # short names a converter or a small exporter gives
    ("rt", "latency"), ("p99", "latency"), ("elapsed", "latency"), ("mem", "saturation"),
    ("heap_used", "saturation"), ("threads", "saturation"), ("open_fds", "saturation"),
    ("conn_active", "saturation"), ("err", "errors"), ("tps", "traffic"),
    ("net_rx", "traffic"),
    # a share that succeeded: lower is worse
    ("probe_success", "success"), ("success_rate", "success"), ("availability", "success"),
    ("apdex", "success"),
    # what the words must not catch
    ("disk_usage", "saturation"), ("storage_usage", "saturation"),
])
def test_metric_names_of_any_vendor_say_their_kind(name: str, kind: str) -> None:
    assert kind_of(name) == kind


def test_a_falling_share_of_successes_is_scored_as_the_share_that_failed() -> None:
    for name, values in (("probe_success", [1, 1, 0, 0, 0]),
                         ("availability_percent", [99.9, 99.95, 62.0, 60.0, 61.0])):
        sig = score_series(coarse(name, values, service="fn"), ("", "fn"), ANCHOR,
                           NOW.timestamp())
        assert sig is not None and sig.kind == "errors" and sig.name == f"1 - {name}"
        assert sig.score > 0.5 and sig.recent > sig.base
    better = coarse("success_rate", [0.90, 0.91, 0.99, 0.99, 0.99], service="fn")
    sig = score_series(better, ("", "fn"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.score == 0.0  # more success is good news
    # a count of successes is demand, not a share
    count = coarse("checks_success_total", [100, 200, 300, 400, 500], service="fn")
    sig = score_series(count, ("", "fn"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.kind == "traffic"


def test_counters_are_rated_before_scoring() -> None:
    # a monotonic counter whose increase per second quadruples
    totals, acc = [], 0.0
    for i in range(40):
        acc += 10 if i < 30 else 40
        totals.append(acc)
    s = series("orders_failed_total", totals, job="orders")
    sig = score_series(s, ("", "orders"), None, NOW.timestamp())
    assert sig is not None and sig.kind == "errors" and sig.score > 0.5
    assert 0.1 < sig.base < 0.2  # 10 per minute, as a per-second rate


def test_places_come_from_whatever_label_names_them() -> None:
    ix = Index.build(snapshot())
    assert place_of(ix, series("m", [1.0], dbinstance_identifier="orders-prod")) == (
        "", "orders-prod")
    assert place_of(ix, series("m", [1.0], function_name="resize")) == ("", "resize")
    assert place_of(ix, series("m", [1.0], instance="10.0.0.7:9100")) == ("", "10.0.0.7")
    assert place_of(ix, series("m", [1.0], shard="s-3")) == ("", "s-3")
    assert place_of(ix, series("m", [1.0])) is None


def test_a_series_that_stops_reporting_is_flagged() -> None:
    s = series("queue_depth", flat(5.0, 30), queue="jobs")
    s = s.model_copy(update={"values": s.values[:-10]})
    sig = score_series(s, ("", "jobs"), None, NOW.timestamp())
    assert sig is not None and sig.stopped


def test_a_steady_climb_is_told_from_a_step() -> None:
    climb = coarse("pod:memory_working_set:ratio", [0.70, 0.76, 0.83, 0.89, 0.95], service="a")
    step = coarse("pod:memory_working_set:ratio", [0.37, 0.38, 0.49, 0.90, 0.98], service="a")
    c = score_series(climb, ("", "a"), ANCHOR, NOW.timestamp())
    s = score_series(step, ("", "a"), ANCHOR, NOW.timestamp())
    assert c is not None and c.climbing and c.score > 0.4
    assert s is not None and not s.climbing and s.score > 0.4


def test_score_all_splits_at_the_first_alert() -> None:
    snap = snapshot(series=[series("service:errors:ratio_rate1m", stepped(0.001, 0.3),
                                   service="pay", namespace="")],
                    alerts=[alert({"service": "pay"})])
    sigs = score_all(Index.build(snap))
    assert len(sigs) == 1 and sigs[0].entity == ("", "pay") and sigs[0].score > 0.8


def _burst(level: float, to: float, at: int, length: int, n: int = 40) -> list[float]:
    """Return a steady series that leaves its level for `length` samples from index `at`."""
    return [to if at <= i < at + length else v for i, v in enumerate(flat(level, n))]


# one-minute samples ending at NOW; the first alert fired 8 minutes ago, so the anchor is
# 10 minutes ago (index 29) and the look-back starts 25 minutes ago (index 14)
ALERT_ANCHOR = (NOW - timedelta(minutes=10)).timestamp()


def test_a_burst_over_before_the_alert_still_scores_with_its_own_onset() -> None:
    s = series("pod:cpu_usage:ratio", _burst(0.05, 0.9, at=16, length=4), service="deep")
    sig = score_series(s, ("", "deep"), ALERT_ANCHOR, NOW.timestamp())
    assert sig is not None and sig.transient and sig.score > 0.5
    assert sig.onset == NOW - timedelta(minutes=23)  # index 16 of 40 one-minute samples
    assert sig.baseline_points == 14  # judged against what came before the look-back
    # the same burst before the look-back is history, not the incident
    old = series("pod:cpu_usage:ratio", _burst(0.05, 0.9, at=4, length=4), service="deep")
    past = score_series(old, ("", "deep"), ALERT_ANCHOR, NOW.timestamp())
    assert past is not None and past.score == 0.0


def test_a_spike_in_the_newest_samples_is_not_diluted_by_the_recent_median() -> None:
    s = series("pod:cpu_usage:ratio", _burst(0.05, 0.99, at=38, length=2), service="a")
    sig = score_series(s, ("", "a"), ALERT_ANCHOR, NOW.timestamp())
    assert sig is not None and sig.score >= 0.8 and not sig.transient
    # one sample alone is no excursion
    one = series("pod:cpu_usage:ratio", _burst(0.05, 0.99, at=39, length=1), service="a")
    single = score_series(one, ("", "a"), ALERT_ANCHOR, NOW.timestamp())
    assert single is not None and single.score < 0.3


def test_a_level_the_baseline_reached_often_is_noise() -> None:
    # a p99 over a handful of requests: it jumps between histogram buckets all the time
    quantised = [0.025 if i % 5 == 2 else 0.01 for i in range(37)] + [0.025, 0.025, 0.01]
    s = series("service:latency_seconds:p99_1m", quantised, service="few")
    sig = score_series(s, ("", "few"), ALERT_ANCHOR, NOW.timestamp())
    assert sig is not None and sig.score < 0.15
    # a level it never reached is evidence however few its requests
    slow = [0.025 if i % 5 == 2 else 0.01 for i in range(37)] + [0.25, 0.25, 0.26]
    sig2 = score_series(series("service:latency_seconds:p99_1m", slow, service="few"),
                        ("", "few"), ALERT_ANCHOR, NOW.timestamp())
    assert sig2 is not None and sig2.score > 0.8


def test_precedent_is_the_binomial_chance_of_what_the_baseline_already_showed() -> None:
    base = [0.0] * 8 + [1.0] * 2  # one in five baseline samples reached 1.0
    assert precedent(base, 0.0, 1.0, 1.0, 2, 2) == pytest.approx(0.04)
    assert precedent(base, 0.0, 1.0, 2.0, 2, 2) == 0.0  # never that far: no precedent
    assert significance(0.0) == 1.0 and significance(1e-4) == 1.0
    assert 0 < significance(0.04) < 0.5 and significance(1.0) == 0.0
    # two samples at five-minute steps never reached the new level: judged by the z alone
    s = coarse("service:latency_seconds:p99_1m", [0.1, 0.12, 0.5, 0.55, 0.5], service="fn")
    sig = score_series(s, ("", "fn"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.score > 0.8


def test_a_missed_baseline_scrape_is_not_filled_from_after_the_anchor() -> None:
    # the second baseline sample was due before the anchor and never scraped: the one left is
    # the baseline, rather than the first sample of the change borrowed to make two
    s = coarse("service:latency_seconds:avg_1m", [0.07, 0.065, 0.31, 0.35, 0.27], service="fn")
    del s.values[1]
    sig = score_series(s, ("", "fn"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.baseline_points == 1 and sig.score > 0.8
    # a series that only began just before the anchor still borrows its second sample
    young = coarse("service:latency_seconds:avg_1m", [0.07, 0.31, 0.35, 0.27], service="fn")
    sig = score_series(young, ("", "fn"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.baseline_points == 2


def test_an_onset_inside_a_two_sample_baseline_is_found_by_its_change_point() -> None:
    # the alert fired a step after the errors began: the second baseline sample is already
    # part of the incident, so the usual split judges the pulse against itself
    pulse = coarse("service:errors:ratio_rate1m", [0.0, 0.064, 0.078, 0.056, 0.0], service="fn")
    sig = score_series(pulse, ("", "fn"), ANCHOR, NOW.timestamp())
    assert sig is not None and sig.score > 0.1 and sig.transient and sig.recovered
    assert sig.onset == NOW - timedelta(minutes=15)  # the second sample: the change-point
    assert sig.baseline_points == 2  # the samples outside the pulse, before and after it


def test_a_latency_with_no_sample_while_nothing_was_asked_of_an_often_idle_place_did_not_stop(
        ) -> None:
    # a few requests a minute, none at times: the p99 has a sample only when there were some
    demand = [0.1, 0.0, 0.1, 0.1, 0.0] * 5 + [0.0] * 8
    end = NOW.timestamp()

    def latency_where_asked(rate: list[float]) -> Series:
        return Series(metric={"__name__": "service:latency_seconds:p99_1m", "service": "cart",
                              "namespace": "shop"},
                      values=[(end - 60 * (len(rate) - 1 - i), "0.25")
                              for i, v in enumerate(rate) if v > 0])

    def latency_signal(rate: list[float]) -> bool:
        snap = snapshot(series=[series("service:requests:rate1m", rate, service="cart",
                                       namespace="shop"), latency_where_asked(rate)],
                        alerts=[alert({"service": "cart", "namespace": "shop"})])
        (sig,) = [s for s in score_all(Index.build(snap)) if s.kind == "latency"]
        return sig.stopped

    assert not latency_signal(demand)  # idle as it often was: nobody called it
    # demand that never fell to nothing before: the place went silent, the stop is news
    busy = [0.1] * 25 + [0.0] * 8
    assert latency_signal(busy)
