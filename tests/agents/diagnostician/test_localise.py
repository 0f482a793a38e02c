"""Localisation by method: metrics-only, non-Kubernetes places, alerts on the entry service."""

from __future__ import annotations

from datetime import timedelta

from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.agents.models import DiagnosisReport
from warroom.sensors.models import AlertView, Document, Series

from .diag_builders import NOW, flat, logs, snapshot, stepped

CHAIN = ["web_front", "orders_AWS::ECS::Service", "pricing_AWS::Lambda::Function",
         "rates_AWS::Lambda::Function"]


def coarse(name: str, svc: str, values: list[float]) -> Series:
    """Return a five-minute-step series on a place with an empty namespace."""
    end = NOW.timestamp()
    return Series(metric={"__name__": name, "namespace": "", "service": svc},
                  values=[(end - 300 * (len(values) - 1 - i), f"{v:.6g}")
                          for i, v in enumerate(values)])


def entry_alert() -> AlertView:
    return AlertView(status="firing", labels={"alertname": "FrontLowAvailability",
                                              "service": CHAIN[0]},
                     starts_at=NOW - timedelta(minutes=12))


def world(broken: dict[str, dict[str, list[float]]]) -> DiagnosisReport:
    """Four places in a call chain, two baseline samples each; `broken` overrides series."""
    series = []
    for svc in CHAIN + ["audit_AWS::SQS::Queue"]:
        own = {"service:errors:ratio_rate1m": [0.0, 0.0, 0.0, 0.001, 0.0],
               "service:latency_seconds:p99_1m": [0.30, 0.32, 0.31, 0.30, 0.33],
               "service:requests:rate1m": [5.0, 5.2, 5.1, 4.9, 5.0]}
        own.update(broken.get(svc, {}))
        series += [coarse(name, svc, vals) for name, vals in own.items()]
    edges = list(zip(CHAIN, CHAIN[1:], strict=False)) + [(CHAIN[1], "audit_AWS::SQS::Queue")]
    return diagnose_snapshot(snapshot(series=series, topology=edges, alerts=[entry_alert()]))


def test_the_deepest_failing_callee_three_hops_below_the_alert_is_the_root() -> None:
    errors = [0.0, 0.0, 0.25, 0.3, 0.28]
    inherited = [0.0, 0.0, 0.08, 0.1, 0.09]
    report = world({CHAIN[3]: {"service:errors:ratio_rate1m": errors},
                    **{svc: {"service:errors:ratio_rate1m": inherited} for svc in CHAIN[:3]}})
    top = report.hypotheses[0]
    assert (top.namespace, top.service, top.fault) == ("", CHAIN[3], "application_error")
    assert any("robust z" in e for e in top.evidence)
    # the callers only inherit it: ranked below, never first
    assert all(h.service != CHAIN[0] or h.confidence < top.confidence
               for h in report.hypotheses)
    # found by the anomaly method alone: ranked, but handed to a human
    assert report.abstain and "localised from anomalies alone" in report.summary


def test_a_slow_data_store_is_database_saturation() -> None:
    slow = [0.01, 0.012, 0.4, 0.5, 0.45]
    table = "pets_AWS::DynamoDB::Table"
    series = [coarse("service:latency_seconds:p99_1m", svc, slow)
              for svc in (CHAIN[0], CHAIN[1], table)]
    report = diagnose_snapshot(snapshot(
        series=series, topology=[(CHAIN[0], CHAIN[1]), (CHAIN[1], table)],
        alerts=[entry_alert()]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == (table, "database_saturation")
    assert report.abstain  # a managed store: nothing in the catalogue acts on it


def test_a_callee_quiet_while_its_caller_fails_leaves_the_caller_as_root() -> None:
    report = world({CHAIN[1]: {"service:errors:ratio_rate1m": [0.0, 0.0, 0.3, 0.35, 0.3]},
                    CHAIN[0]: {"service:errors:ratio_rate1m": [0.0, 0.0, 0.1, 0.12, 0.1]}})
    top = report.hypotheses[0]
    assert (top.service, top.fault) == (CHAIN[1], "application_error")


def test_nothing_anomalous_anywhere_is_none() -> None:
    report = world({})
    assert report.hypotheses[0].fault == "none"


def test_a_move_two_baseline_samples_cannot_tell_from_noise_does_not_beat_none() -> None:
    # p99 up 40% against two baseline samples: as likely a noisy series as a fault
    report = world({CHAIN[2]: {"service:latency_seconds:p99_1m": [0.30, 0.31, 0.42, 0.43, 0.41]}})
    assert report.hypotheses[0].fault == "none"
    assert any(h.service == CHAIN[2] for h in report.hypotheses[1:])  # still ranked, below
    # an error ratio seven times its baseline is news however short the baseline
    report = world({CHAIN[2]: {"service:errors:ratio_rate1m": [0.006, 0.006, 0.043, 0.045,
                                                                0.044]}})
    assert (report.hypotheses[0].service, report.hypotheses[0].fault) == (
        CHAIN[2], "application_error")


def test_cpu_of_a_deep_service_is_its_own_not_the_gateways() -> None:
    cpu = Series(metric={"__name__": "process_cpu_utilization", "namespace": "",
                         "service": CHAIN[2]},
                 values=[(NOW.timestamp() - 300 * (4 - i), v)
                         for i, v in enumerate(["0.2", "0.22", "0.97", "0.99", "0.98"])])
    slow = [0.30, 0.32, 1.5, 1.7, 1.6]
    report = diagnose_snapshot(snapshot(
        series=[cpu] + [coarse("service:latency_seconds:p99_1m", svc, slow)
                              for svc in CHAIN[:3]],
        topology=list(zip(CHAIN, CHAIN[1:], strict=False)), alerts=[entry_alert()]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == (CHAIN[2], "cpu_saturation")


HOST = "api.payments-partner.example"


def _host_world(caller_latency: list[float], documents: list[Document] | None = None,
                extra: list[Series] | None = None, lines: list[str] | None = None
                ) -> DiagnosisReport:
    """A caller of an outside host nobody observes: its errors rose, its latency as given.

    `extra` are more series (their places hang below the entry service); `lines` the caller's
    log lines.
    """
    own = {"service:errors:ratio_rate1m": [0.0, 0.0, 0.3, 0.35, 0.3],
           "service:latency_seconds:p99_1m": caller_latency,
           "service:requests:rate1m": [5.0, 5.2, 5.1, 4.9, 5.0]}
    series = [coarse(name, CHAIN[1], vals) for name, vals in own.items()] + (extra or [])
    edges = [(CHAIN[0], CHAIN[1]), (CHAIN[1], HOST)]
    edges += [(CHAIN[0], s.metric["service"]) for s in extra or []]
    streams = [logs("", f"{CHAIN[1]}-7f9dd8b6c4-aaaaa", lines)] if lines else []
    return diagnose_snapshot(snapshot(series=series, topology=edges, logs=streams,
                                      alerts=[entry_alert()], documents=documents or []))


def test_a_caller_that_fails_fast_keeps_its_own_errors() -> None:
    top = _host_world([0.30, 0.32, 0.31, 0.30, 0.33]).hypotheses[0]
    assert (top.service, top.fault) == (CHAIN[1], "application_error")


def test_a_caller_that_waits_on_an_unobserved_host_hands_it_the_blame() -> None:
    top = _host_world([0.30, 0.32, 2.5, 2.8, 2.6]).hypotheses[0]
    assert (top.service, top.fault) == (HOST, "external_dependency")


def test_a_blamed_host_is_as_strong_as_the_caller_it_stands_in_for() -> None:
    # a healthy neighbour whose p99 wobbled up: weaker than the caller's errors and wait,
    # which the host cannot show itself and its caller shows for it
    wobble = coarse("service:latency_seconds:p99_1m", "thumbs_AWS::ECS::Service",
                    [0.29, 0.30, 0.31, 0.54, 0.62])
    report = _host_world([0.30, 0.32, 2.5, 2.8, 2.6], extra=[wobble])
    top = report.hypotheses[0]
    assert (top.service, top.fault) == (HOST, "external_dependency")
    assert any("2.6" in e or "x8" in e for e in top.evidence)  # the caller's wait, cited


def test_a_caller_with_a_new_error_of_its_own_keeps_the_blame() -> None:
    def at(minutes_ago: float) -> str:
        return (NOW - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    chatter = [f"{at(24 - i)} INFO GET /orders/{i} 200" for i in range(24)]
    own = [f"{at(11 - i * 0.5)} ERROR Unhandled exception: KeyError: 'currency' in order {i}"
           for i in range(20)]
    # it waits on the host too, but the traceback is its own and does not name the host
    top = _host_world([0.30, 0.32, 2.5, 2.8, 2.6], lines=chatter + own).hypotheses[0]
    assert (top.service, top.fault) == (CHAIN[1], "application_error")


def test_a_document_naming_the_host_hands_it_the_blame_of_fast_errors() -> None:
    doc = Document(source="statuspage", title=f"{HOST} status",
                   text=f"{HOST}: major outage, elevated error rates")
    top = _host_world([0.30, 0.32, 0.31, 0.30, 0.33], [doc]).hypotheses[0]
    assert (top.service, top.fault) == (HOST, "external_dependency")


def test_a_saturated_place_anywhere_rules_out_nothing_is_wrong() -> None:
    cpu = Series(metric={"__name__": "pod:cpu_usage:ratio", "namespace": "",
                         "service": "thumbs_AWS::ECS::Service"},
                 values=[(NOW.timestamp() - 300 * (4 - i), v)
                         for i, v in enumerate(["0.2", "0.22", "0.97", "0.99", "0.98"])])
    quiet = [coarse("service:latency_seconds:p99_1m", CHAIN[0], [0.30, 0.32, 0.31, 0.30, 0.33])]
    # the saturated place is not below the alerting one: only its own anomaly points at it
    report = diagnose_snapshot(snapshot(series=[cpu, *quiet], alerts=[entry_alert()],
                                        topology=[(CHAIN[0], CHAIN[1])]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("thumbs_AWS::ECS::Service", "cpu_saturation")
    assert report.abstain  # not connected to the alert, found by the method alone


def test_places_that_went_silent_with_a_silent_node_are_its_victims() -> None:
    def minute(name: str, values: list[float], stop: int = 0, **labels: str) -> Series:
        end = NOW.timestamp() - 60 * stop
        return Series(metric={"__name__": name, **labels},
                      values=[(end - 60 * (len(values) - 1 - i), f"{v:.6g}")
                              for i, v in enumerate(values)])

    # no objects: nothing says which pods ran on the node but the time their series stopped
    silent = [minute("node:cpu_usage:ratio", flat(0.4, 30), stop=8, node="worker-7"),
              *(minute("pod:cpu_usage:ratio", flat(0.3, 30), stop=8, service=svc)
                for svc in ("cart", "ledger"))]
    errors = [minute("service:errors:ratio_rate1m", stepped(0.001, 0.3, at=30, n=38),
                     service=svc) for svc in ("web", "cart", "ledger")]
    others = [minute("node:cpu_usage:ratio", flat(0.4, 38), node="worker-8")]
    report = diagnose_snapshot(snapshot(
        series=[*silent, *errors, *others], topology=[("web", "cart"), ("web", "ledger")],
        alerts=[AlertView(status="firing", labels={"alertname": "HighErrorRate",
                                                   "service": "web"},
                          starts_at=NOW - timedelta(minutes=7))]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == ("worker-7", "node_failure")


def _minutely(name: str, svc: str, values: list[float]) -> Series:
    end = NOW.timestamp()
    return Series(metric={"__name__": name, "namespace": "", "service": svc},
                  values=[(end - 60 * (len(values) - 1 - i), f"{v:.6g}")
                          for i, v in enumerate(values)])


def test_a_root_whose_burst_ended_before_the_alert_is_found_first() -> None:
    # the deepest place's CPU burst came and went 21-24 minutes ago; its callers got slow
    # then and stay slow; the entry alerts 12 minutes ago
    burst = [0.9 if 16 <= i < 20 else v for i, v in enumerate(flat(0.05))]
    slow = [v if i < 17 else 1.2 for i, v in enumerate(flat(0.3))]
    series = [_minutely("process_cpu_utilization", CHAIN[2], burst),
              *[_minutely("service:latency_seconds:p99_1m", svc, slow) for svc in CHAIN[:2]],
              _minutely("service:latency_seconds:p99_1m", CHAIN[2], flat(0.2))]
    report = diagnose_snapshot(snapshot(
        series=series, topology=list(zip(CHAIN, CHAIN[1:], strict=False)),
        alerts=[entry_alert()]))
    top = report.hypotheses[0]
    assert (top.service, top.fault) == (CHAIN[2], "cpu_saturation")
    assert any("since" in e for e in top.evidence)


def test_a_blip_at_the_alert_that_is_over_is_nothing_wrong() -> None:
    blip = [1.5 if 33 <= i < 35 else v for i, v in enumerate(flat(0.3))]
    series = [_minutely("service:latency_seconds:p99_1m", CHAIN[0], blip),
              _minutely("service:requests:rate1m", CHAIN[0], flat(5.0))]
    report = diagnose_snapshot(snapshot(series=series, alerts=[entry_alert()]))
    assert report.hypotheses[0].fault == "none"


def test_an_alert_whose_newest_sample_jumped_past_its_whole_baseline_is_not_quiet() -> None:
    jump = [*flat(0.3)[:-1], 1.5]
    series = [_minutely("service:latency_seconds:p99_1m", CHAIN[0], jump),
              _minutely("service:requests:rate1m", CHAIN[0], flat(5.0))]
    report = diagnose_snapshot(snapshot(series=series, alerts=[entry_alert()]))
    assert report.hypotheses[0].fault == "none"
    assert report.hypotheses[0].confidence < 0.7  # one sample: not sure, but not quiet


def test_an_alert_on_a_fraction_of_a_percent_makes_a_callees_one_percent_count() -> None:
    # the front alerts on 0.3% failures (an availability objective); one callee fails 1.1%
    # of its requests from the same sample: under the usual two-point floor both are noise
    fails = {CHAIN[0]: {"service:errors:ratio_rate1m": [0.0, 0.0, 0.003, 0.0032, 0.003]},
             CHAIN[2]: {"service:errors:ratio_rate1m": [0.0, 0.0, 0.011, 0.012, 0.011]}}
    top = world(fails).hypotheses[0]
    assert (top.service, top.fault) == (CHAIN[2], "application_error")
    # a front whose failures only crept up from a baseline that already had them keeps the floor
    crept = {CHAIN[0]: {"service:errors:ratio_rate1m": [0.006, 0.007, 0.0085, 0.008, 0.008]},
             CHAIN[2]: fails[CHAIN[2]]}
    assert world(crept).hypotheses[0].fault == "none"
