"""A raw exporter's counters and histograms become the golden signals the rules read."""

from __future__ import annotations

import pytest

from warroom.agents.diagnostician.anomaly import place_of
from warroom.agents.diagnostician.families import derive
from warroom.agents.diagnostician.index import Index, finite_samples
from warroom.agents.diagnostician.roles import ERRORS, REQUESTS, role_of
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.sensors.mesh import at_callee
from warroom.sensors.models import Series

from .diag_builders import alert, series, snapshot

CART = {"namespace": "shop", "service": "cart"}
POD = {"namespace": "shop", "pod": "cart-7f9dd8b6c4-aaaaa", "container": "cart"}


def counter(rates: list[float], step: float = 60.0) -> list[float]:
    """Return the samples of a counter growing at the given per-second rates."""
    total, out = 1000.0, []
    for r in rates:
        total += r * step
        out.append(total)
    return out


def named(out: list[Series]) -> dict[str, list[float]]:
    return {s.name: [v for _, v in finite_samples(s)] for s in out}


def test_a_status_split_counter_becomes_its_error_ratio_and_request_rate() -> None:
    ok = series("http_requests_total", counter([10.0] * 40), code="200", method="GET", **CART)
    # the failures' counter is created at the first failure, ten samples before the end
    failed = series("http_requests_total", counter([2.0] * 10), code="503", method="GET", **CART)
    client = series("http_requests_total", counter([1.0] * 40), code="404", method="POST",
                    **CART)
    out = named(derive([ok, failed, client], finite_samples))
    assert set(out) == {"http_requests_error_ratio", "http_requests_per_second"}
    ratio = out["http_requests_error_ratio"]
    assert ratio[0] == 0 and ratio[-1] == pytest.approx(2 / 13)  # a 404 is the caller's
    assert out["http_requests_per_second"][0] == pytest.approx(11.0)
    assert out["http_requests_per_second"][-1] == pytest.approx(13.0)
    derived = {s.name: s for s in derive([ok, failed, client], finite_samples)}
    assert derived["http_requests_error_ratio"].metric == {
        "__name__": "http_requests_error_ratio", **CART}  # summed over status and method
    for name, role in (("http_requests_error_ratio", ERRORS),
                       ("http_requests_per_second", REQUESTS)):
        assert role_of(derived[name], finite_samples(derived[name])) == role


def test_a_counter_first_reported_after_its_family_counts_from_zero() -> None:
    # as Prometheus' created-timestamp zero injection records it: a failures' counter created
    # at the first failure counted its first value in the interval before its first scrape
    ok = series("http_requests_total", counter([10.0] * 6), code="200", **CART)
    fresh = series("http_requests_total", [120.0, 420.0, 720.0], code="500", **CART)
    ratio = named(derive([ok, fresh], finite_samples))["http_requests_error_ratio"]
    assert ratio == pytest.approx([0.0, 0.0, 2 / 12, 5 / 15, 5 / 15], rel=1e-5)
    # a first value no interval of the family could have counted was counting before it was
    # seen (a series missing from earlier scrapes): its first interval is unknown, not a burst
    seen_late = series("http_requests_total", [50_000.0, 50_300.0, 50_600.0], code="500", **CART)
    ratio = named(derive([ok, seen_late], finite_samples))["http_requests_error_ratio"]
    assert ratio == pytest.approx([0.0, 0.0, 0.0, 5 / 15, 5 / 15], rel=1e-5)


def test_grpc_codes_fail_by_name_or_number_and_client_codes_do_not() -> None:
    def ratio(label: str, bad: str, good: str) -> float:
        out = named(derive([
            series("grpc_server_handled_total", counter([9.0] * 5), **{label: good}, **CART),
            series("grpc_server_handled_total", counter([1.0] * 5), **{label: bad}, **CART),
        ], finite_samples))
        return out["grpc_server_handled_error_ratio"][-1]

    assert ratio("grpc_code", "Unavailable", "OK") == pytest.approx(0.1)
    assert ratio("grpc_code", "NotFound", "OK") == 0
    assert ratio("rpc_grpc_status_code", "14", "0") == pytest.approx(0.1)
    assert ratio("grpc_response_status", "14", "0") == pytest.approx(0.1)  # Istio's
    assert ratio("outcome", "SERVER_ERROR", "SUCCESS") == pytest.approx(0.1)


def test_linkerds_classification_is_an_outcome_at_the_callee() -> None:
    # the metrics sensor sums Linkerd's outbound `response_total` by its classification
    call = {"direction": "outbound", "deployment": "web", "namespace": "shop",
            "dst_deployment": "cart", "dst_namespace": "shop"}
    out = named(derive(at_callee([
        series("response_total", counter([9.0] * 5), classification="success", **call),
        series("response_total", counter([0.0] * 4 + [3.0]), classification="failure", **call),
    ]), finite_samples))
    assert out["response_error_ratio"] == [0.0] * 3 + [0.25]


def test_a_failures_counter_beside_the_all_requests_counter_gives_the_error_ratio() -> None:
    # a service graph counts every call and, apart, the failed ones; the failures' counter
    # first reports at the first failure
    call = {"client": "web", "server": "cart"}
    every = series("traces_service_graph_request_total", counter([10.0] * 6), **call)
    failed = series("traces_service_graph_request_failed_total",
                    counter([0.0] * 3 + [2.0, 5.0, 5.0])[3:], **call)
    out = named(derive(at_callee([every, failed]), finite_samples))
    assert out["traces_service_graph_request_error_ratio"] == [0.0] * 3 + [0.5, 0.5]
    assert out["traces_service_graph_request_per_second"] == [10.0] * 5
    assert not {every.name, failed.name} & set(out)
    # a failures' counter with nothing beside it stays a rate of failures
    assert derive([failed], finite_samples) == [failed]


def test_opentelemetry_span_metrics_statuses_are_outcomes() -> None:
    # the span metrics connector: one counter per span name and status; an unmarked span
    # (UNSET) is the usual success
    spans = {"service_name": "cart", "span_kind": "SPAN_KIND_SERVER"}
    out = named(derive([
        series("traces_span_metrics_calls_total", counter([6.0] * 5),
               status_code="STATUS_CODE_UNSET", span_name="GET /cart", **spans),
        series("traces_span_metrics_calls_total", counter([3.0] * 5),
               status_code="STATUS_CODE_OK", span_name="POST /cart", **spans),
        series("traces_span_metrics_calls_total", counter([0.0] * 4 + [1.0]),
               status_code="STATUS_CODE_ERROR", span_name="POST /cart", **spans),
    ], finite_samples))
    assert out["traces_span_metrics_calls_error_ratio"] == [0.0] * 3 + [0.1]


def _tempo(bounds: tuple[str, ...]) -> list[Series]:
    """Grafana Tempo's metrics generator: the service in `service`, no unit in the latency's
    name; a tenth of the calls fail and the latency's buckets hold 50, 90, 100 of 100."""
    spans = {"service": "cart", "span_kind": "SPAN_KIND_SERVER", "span_name": "GET /cart"}
    return [series("traces_spanmetrics_calls_total", counter([9.0] * 5),
                   status_code="STATUS_CODE_UNSET", **spans),
            series("traces_spanmetrics_calls_total", counter([1.0] * 5),
                   status_code="STATUS_CODE_ERROR", **spans),
            *[series("traces_spanmetrics_latency_bucket", counter([n] * 5), le=le, **spans)
              for le, n in zip((*bounds, "+Inf"), (50.0, 90.0, 100.0, 100.0), strict=True)]]


def test_tempos_span_metrics_are_a_services_errors_and_latency_in_seconds() -> None:
    ix = Index.build(snapshot(series=_tempo(("0.1", "0.5", "1"))))
    read = {ix.role(s): finite_samples(s)[-1][1] for s in ix.snapshot.series}
    assert read[ERRORS] == pytest.approx(0.1)
    assert read["service:latency_seconds:p99_1m"] == pytest.approx(0.95)
    assert {place_of(ix, s) for s in ix.snapshot.series} == {("", "cart")}
    # bounds that reach a thousand are milliseconds, as older span metrics count them
    ms = Index.build(snapshot(series=_tempo(("100", "500", "1000"))))
    assert {ms.role(s): finite_samples(s)[-1][1] for s in ms.snapshot.series}[
        "service:latency_seconds:p99_1m"] == pytest.approx(0.95)


def test_a_counter_without_its_suffix_is_read_as_a_counter() -> None:
    # NGINX ingress counts requests in `nginx_ingress_controller_requests{status}`
    ingress = {"ingress": "shop", "service": "cart", "namespace": "shop"}
    out = named(derive([
        series("nginx_ingress_controller_requests", counter([9.0] * 5), status="200", **ingress),
        series("nginx_ingress_controller_requests", counter([1.0] * 4 + [9.0]), status="503",
               **ingress),
    ], finite_samples))
    assert out["nginx_ingress_controller_requests_error_ratio"] == [0.1] * 3 + [0.5]
    # a family of rates stays rates, whichever way it moves
    rising = [1.0, 2.0, 3.0, 4.0, 5.0]
    rates = named(derive([series("http_requests_per_second", rising, status="200", **CART),
                          series("http_requests_per_second", rising, status="500", **CART)],
                         finite_samples))
    assert rates["http_requests_error_ratio"] == [0.5] * 5


def test_envoys_response_code_class_is_an_outcome() -> None:
    upstream = {"envoy_cluster_name": "cart", **CART}
    out = named(derive([
        series("envoy_cluster_upstream_rq_xx", counter([9.0] * 5), envoy_response_code_class="2",
               **upstream),
        series("envoy_cluster_upstream_rq_xx", counter([1.0] * 5), envoy_response_code_class="5",
               **upstream),
        series("envoy_cluster_upstream_rq_xx", counter([5.0] * 5), envoy_response_code_class="4",
               **upstream),
    ], finite_samples))
    assert out["envoy_cluster_upstream_rq_xx_error_ratio"] == [pytest.approx(1 / 15)] * 4


def test_every_status_label_and_the_exception_are_summed_into_one_family() -> None:
    # Spring Boot's Micrometer: one request's status, outcome and exception
    out = derive([
        series("http_server_requests_seconds_count", counter([9.0] * 5), status="200",
               outcome="SUCCESS", exception="None", uri="/cart", **CART),
        series("http_server_requests_seconds_count", counter([1.0] * 5), status="500",
               outcome="SERVER_ERROR", exception="IOException", uri="/cart", **CART),
    ], finite_samples)
    ratios = [s for s in out if s.name == "http_server_requests_seconds_error_ratio"]
    assert len(ratios) == 1 and ratios[0].metric == {
        "__name__": "http_server_requests_seconds_error_ratio", **CART}
    assert finite_samples(ratios[0])[-1][1] == pytest.approx(0.1)


def test_a_services_client_spans_are_its_callees_not_its_own() -> None:
    def spans(service: str, kind: str, failing: float) -> list[Series]:
        labels = {"service_name": service, "span_kind": kind, "span_name": "GET /"}
        return [series("traces_span_metrics_calls_total", counter([10.0 - failing] * 5),
                       status_code="STATUS_CODE_UNSET", **labels),
                series("traces_span_metrics_calls_total", counter([failing] * 5),
                       status_code="STATUS_CODE_ERROR", **labels)]

    out = derive([*spans("web", "SPAN_KIND_SERVER", 0.0), *spans("web", "SPAN_KIND_CLIENT", 5.0),
                  *spans("batch", "SPAN_KIND_CLIENT", 2.0)], finite_samples)
    ratios = {(s.metric["service_name"], s.metric["span_kind"]): finite_samples(s)[-1][1]
              for s in out if s.name.endswith("_error_ratio")}
    # web answers fine; what it calls fails. A job with client spans only keeps them
    assert ratios == {("web", "SPAN_KIND_SERVER"): 0.0, ("batch", "SPAN_KIND_CLIENT"): 0.2}


def test_request_rates_split_by_status_give_the_error_ratio_too() -> None:
    ok = series("service:requests:rate1m", [9.0] * 5, code="200", **CART)
    failed = series("service:requests:rate1m", [0.0] * 4 + [3.0], code="500", **CART)
    out = named(derive([ok, failed], finite_samples))
    assert out == {ERRORS: [0.0] * 4 + [0.25], REQUESTS: [9.0] * 4 + [12.0]}
    per_status = series("http_requests_per_second", [4.0] * 3, status="5xx", **CART)
    assert "http_requests_error_ratio" in named(derive([per_status], finite_samples))


def test_a_label_that_is_no_status_leaves_the_counter_alone() -> None:
    jobs = series("jobs_processed_total", counter([3.0] * 5), status="queued", **CART)
    assert derive([jobs], finite_samples) == [jobs]


def _histogram(base: str, bounds: list[tuple[str, list[float]]], **labels: str) -> list[Series]:
    return [series(f"{base}_bucket", counter(rates), le=le, **labels, **CART)
            for le, rates in bounds]


def test_a_histogram_gives_its_quantiles_as_histogram_quantile_does() -> None:
    # per second: 50 under 0.1 s, 40 more under 0.5 s, 10 more under 1 s
    buckets = _histogram("http_request_duration_seconds", [
        ("0.1", [50.0] * 5), ("0.5", [90.0] * 5), ("1", [100.0] * 5), ("+Inf", [100.0] * 5)])
    total = series("http_request_duration_seconds_sum", counter([20.0] * 5), **CART)
    out = named(derive([*buckets, total], finite_samples))
    assert set(out) == {"http_request_duration_seconds_p50", "http_request_duration_seconds_p95",
                        "http_request_duration_seconds_p99"}  # the tail says more than a mean
    assert out["http_request_duration_seconds_p50"][-1] == pytest.approx(0.1)
    assert out["http_request_duration_seconds_p95"][-1] == pytest.approx(0.75)
    assert out["http_request_duration_seconds_p99"][-1] == pytest.approx(0.95)
    p99 = next(s for s in derive(buckets, finite_samples) if s.name.endswith("_p99"))
    assert role_of(p99, finite_samples(p99)) == "service:latency_seconds:p99_1m"


def test_milliseconds_become_seconds_and_a_sum_and_count_give_the_mean() -> None:
    buckets = _histogram("http_server_duration_milliseconds", [
        ("100", [50.0] * 5), ("1000", [100.0] * 5), ("+Inf", [100.0] * 5)])
    out = named(derive(buckets, finite_samples))
    assert out["http_server_duration_seconds_p50"][-1] == pytest.approx(0.1)
    mean = named(derive([
        series("rpc_latency_seconds_sum", counter([3.0] * 5), **CART),
        series("rpc_latency_seconds_count", counter([10.0] * 5), **CART)], finite_samples))
    assert mean == {"rpc_latency_seconds_avg": pytest.approx([0.3] * 4)}


def test_a_callee_failing_in_raw_counters_is_the_root_cause_its_caller_alerts_for() -> None:
    # what the metrics sensor asks for without recording rules: requests summed per service
    # and status, the failures' counters created at the first failure
    def requests(service: str, failing: float) -> list[Series]:
        where = {"namespace": "shop", "service": service}
        return [series("http_requests_total", counter([20.0] * 40), code="200", **where),
                series("http_requests_total", counter([failing] * 8), code="500", **where)]

    snap = snapshot(series=[*requests("frontend", 4.0), *requests("cart", 8.0)],
                    topology=[("frontend", "cart")],
                    alerts=[alert({"namespace": "shop", "service": "frontend"}, minutes_ago=6)])
    top = diagnose_snapshot(snap).hypotheses[0]
    assert (top.service, top.fault) == ("cart", "application_error")
