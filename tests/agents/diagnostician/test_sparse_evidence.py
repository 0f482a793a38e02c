"""Diagnosis from metrics alone at five-minute steps: no objects, no logs, no change feed.

Each case is what is left of an incident when only a metrics backend saw it, sampled coarsely
with two or three samples before the onset; each fails without the rule it pins.
"""

from __future__ import annotations

from warroom.agents.diagnostician import diagnose_snapshot
from warroom.agents.models import DiagnosisReport
from warroom.sensors.models import Series

from .diag_builders import NOW, alert, change, snapshot

STEP = 300


def coarse(name: str, values: list[float | None], **labels: str) -> Series:
    """Return a five-minute-step series whose last slot is NOW (None: no sample there)."""
    end = NOW.timestamp()
    n = len(values)
    return Series(metric={"__name__": name, **labels},
                  values=[(end - STEP * (n - 1 - i), f"{v:.6g}")
                          for i, v in enumerate(values) if v is not None])


def golden(service: str, errors: list[float], p99: list[float]) -> list[Series]:
    """Return a service's error ratio and p99 latency."""
    return [coarse("service:errors:ratio_rate1m", errors, namespace="", service=service),
            coarse("service:latency_seconds:p99_1m", p99, namespace="", service=service)]


def top(report: DiagnosisReport) -> tuple[str, str, str]:
    h = report.hypotheses[0]
    return (h.namespace, h.service, h.fault)


FLAT_ERR = [0.004, 0.005, 0.004, 0.005, 0.004]
FLAT_P99 = [0.30, 0.31, 0.30, 0.31, 0.30]


def test_an_expiry_series_too_short_for_a_baseline_still_names_the_certificate() -> None:
    series = [*golden("gateway", [0.004, 0.005, 0.004, 0.2, 0.25], FLAT_P99),
              *golden("auth", [0.002, 0.002, 0.002, 0.033, 0.045], FLAT_P99),
              coarse("probe:ssl_expiry_seconds", [780, 480, 180, -120, -420], service="auth")]
    report = diagnose_snapshot(snapshot(series=series, topology=[("gateway", "auth")],
                                        alerts=[alert({"service": "gateway"}, minutes_ago=9)]))
    assert top(report) == ("", "auth", "certificate_expired")


def test_a_node_whose_short_series_all_stopped_is_named() -> None:
    cpu, mem = [0.4, 0.41, 0.4, 0.41, 0.4], [0.6, 0.61, 0.6, 0.61, 0.6]
    series = [*golden("web", [0.004, 0.005, 0.004, 0.06, 0.07], FLAT_P99)]
    for node, last in (("worker-1", 0.4), ("worker-2", None)):
        series += [coarse("node:cpu_usage:ratio", [*cpu[:-1], last], node=node),
                   coarse("node:memory_usage:ratio", [*mem[:-1], last], node=node)]
    report = diagnose_snapshot(snapshot(series=series,
                                        alerts=[alert({"service": "web"}, minutes_ago=9)]))
    assert top(report) == ("", "worker-2", "node_failure")
    assert "stopped reporting" in report.hypotheses[0].evidence[0]


def test_a_node_disk_filling_in_a_short_series_outranks_a_deploy_of_its_victim() -> None:
    # what is hosted where is unknown (no objects); the gateway was deployed minutes before it
    # failed, and one node's filesystem went from 60% to 98%: a full disk is a fact by its
    # level, with no baseline needed, as it is in a long series
    series = [*golden("gateway", [0.004, 0.005, 0.004, 0.09, 0.12], [0.2, 0.21, 0.2, 0.5, 0.6]),
              coarse("node:filesystem_usage:ratio", [0.6, 0.66, 0.83, 0.96, 0.98],
                     node="worker-2"),
              coarse("node:filesystem_usage:ratio", [0.4, 0.41, 0.4, 0.41, 0.4],
                     node="worker-1")]
    deploy = change("deploy", "/deployment/gateway", 12, "image gateway:2.8.4 -> gateway:2.8.5")
    report = diagnose_snapshot(snapshot(series=series, changes=[deploy],
                                        alerts=[alert({"service": "gateway"}, minutes_ago=9)]))
    assert top(report) == ("", "worker-2", "disk_pressure")
    assert "filesystem 96% full" in report.hypotheses[0].evidence[0]


def test_golden_signal_symptoms_count_for_the_fault_the_pattern_names() -> None:
    # every pod's memory jumped to ~90% of its limit as errors and latency rose, CPU flat:
    # the symptoms are those of the memory, not of unexplained failing code
    series = [*golden("gateway", [0.004, 0.005, 0.004, 0.004, 0.03, 0.03],
                      [0.3, 0.31, 0.3, 0.31, 0.5, 0.5]),
              *golden("media", [0.001, 0.004, 0.001, 0.012, 0.05, 0.05],
                      [0.062, 0.07, 0.058, 0.07, 0.1, 0.1])]
    for pod, low in (("media-479djfhtt4-rmnjf", 0.55), ("media-479djfhtt4-nplnc", 0.39)):
        series += [
            coarse("pod:memory_working_set:ratio",
                   [low, low + 0.06, low - 0.03, low + 0.15, 0.9, 0.86],
                   pod=pod, container="media"),
            coarse("pod:cpu_usage:ratio", [0.17, 0.16, 0.17, 0.16, 0.17, 0.17], pod=pod,
                   container="media")]
    report = diagnose_snapshot(snapshot(series=series, topology=[("gateway", "media")],
                                        alerts=[alert({"service": "gateway"}, minutes_ago=9)]))
    assert top(report) == ("", "media", "memory_limit_too_low")


def test_a_failing_resolver_accounts_for_its_clients_errors_and_latency() -> None:
    # a client retries failed lookups: its latency rises more than the resolver's own
    series = [*golden("gateway", [0.006, 0.007, 0.006, 0.28, 0.4, 0.39],
                      [0.44, 0.45, 0.43, 0.55, 0.58, 0.59]),
              *golden("payments", [0.003, 0.003, 0.005, 0.16, 0.2, 0.19],
                      [0.44, 0.42, 0.43, 0.68, 0.78, 0.73]),
              *golden("coredns", [0.007, 0.009, 0.007, 0.47, 0.56, 0.58],
                      [0.133, 0.14, 0.143, 0.241, 0.29, 0.3])]
    report = diagnose_snapshot(snapshot(series=series, topology=[("gateway", "payments")],
                                        alerts=[alert({"service": "gateway"}, minutes_ago=9)]))
    assert top(report) == ("", "coredns", "dns_failure")


def test_nothing_is_wrong_only_when_nothing_below_the_alert_moved() -> None:
    # the alerting entry is quiet; a callee's error ratio rose from under 1% to 4%: weak
    # evidence, but evidence, so it ranks first and the decision abstains
    def case(callee_errors: list[float]) -> DiagnosisReport:
        series = [*golden("gateway", FLAT_ERR, FLAT_P99),
                  *golden("cart", callee_errors, [0.052, 0.05, 0.053, 0.065, 0.063])]
        return diagnose_snapshot(snapshot(series=series, topology=[("gateway", "cart")],
                                          alerts=[alert({"service": "gateway"},
                                                        minutes_ago=9)]))

    moved = case([0.005, 0.008, 0.01, 0.043, 0.044])
    assert top(moved) == ("", "cart", "application_error")
    assert moved.abstain
    assert top(case(FLAT_ERR))[2] == "none"


def test_a_caller_failing_fast_is_not_the_victim_of_a_slower_callee() -> None:
    # half the gateway's requests fail while its own latency stays flat: it does not wait on
    # its callee (no timeouts), so the callee's slowness, errors flat, does not explain it
    series = [*golden("gateway", [0.0007, 0.0008, 0.0007, 0.5, 0.52],
                      [0.24, 0.25, 0.24, 0.25, 0.26]),
              *golden("tax", [0.008, 0.009, 0.008, 0.009, 0.008],
                      [0.24, 0.22, 0.40, 0.40, 0.33])]
    report = diagnose_snapshot(snapshot(series=series, topology=[("gateway", "tax")],
                                        alerts=[alert({"service": "gateway"}, minutes_ago=9)]))
    assert top(report)[:2] == ("", "gateway")
