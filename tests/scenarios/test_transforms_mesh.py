"""`mesh`, `linkerd`, `service_graph` and `otel` give a service's requests as a service mesh, a
tracing backend or OpenTelemetry's span metrics count the calls between services."""

from __future__ import annotations

import pytest
from transform_kit import SAMPLE, by_labels, sample

from warroom.agents.diagnostician.families import derive
from warroom.agents.diagnostician.index import finite_samples
from warroom.scenarios.models import Scenario
from warroom.scenarios.transforms import Transform, resolve
from warroom.scenarios.transforms_mesh import linkerd, mesh, otel, service_graph, tempo
from warroom.scenarios.transforms_raw import raw_counters
from warroom.sensors.mesh import at_callee, calls


@pytest.fixture(params=SAMPLE)
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return sample(request.param)


@pytest.mark.parametrize(("transform", "counter", "alert_label"), [
    (mesh, "istio_requests_total", "destination_workload"),
    (linkerd, "response_total", "deployment"),
])
def test_a_mesh_gives_the_call_graph_and_each_callees_answers_in_the_labels(
        scenario: Scenario, transform: Transform, counter: str, alert_label: str) -> None:
    out = transform(scenario, 0)
    names = {s.name for s in out.prometheus.series}
    assert counter in names and not names & {
        "service:errors:ratio_rate1m", "service:requests:rate1m"}
    # the edges between services are in the metrics only; the rest stay in the topology
    edges, kept = set(scenario.topology.edges), set(out.topology.edges)
    found = set(calls(out.prometheus.series))
    assert kept < edges and found and found | kept == edges and not found & kept
    # what the Diagnostician reads back is each callee's recorded error ratio, per caller
    # (Linkerd: a service nothing calls counts its own, inbound)
    derived = by_labels(derive(at_callee(out.prometheus.series), finite_samples),
                  counter.removesuffix("_total") + "_error_ratio")
    _same_errors(scenario, {dict(labels).get("service") or dict(labels)["deployment"]: (
        dict(labels)["namespace"], samples) for labels, samples in derived.items()})
    # an alert on a service names it as the mesh does
    before = [a.labels for hook in scenario.alerts for a in hook.alerts]
    after = [a.labels for hook in out.alerts for a in hook.alerts]
    for old, new in zip(before, after, strict=True):
        if "service" in old:
            assert new[alert_label] == old["service"] and "service" not in new
        else:
            assert new == old


def test_a_service_graph_counts_every_request_and_the_failed_ones(scenario: Scenario) -> None:
    out = service_graph(scenario)
    assert set(calls(out.prometheus.series)) | set(out.topology.edges) == set(
        scenario.topology.edges)
    requests = by_labels(out.prometheus.series, "traces_service_graph_request_total")
    failed = by_labels(out.prometheus.series, "traces_service_graph_request_failed_total")
    assert failed and set(failed) <= set(requests)
    namespace = {s.metric["service"]: s.metric.get("namespace", "")
                 for s in scenario.prometheus.series if s.metric.get("service")}
    ratios = {}
    for labels, total in requests.items():
        fails = failed.get(labels, {})
        times = sorted(total)
        ratio = {b: (fails.get(b, 0) - fails.get(a, 0)) / (total[b] - total[a])
                 for a, b in zip(times, times[1:], strict=False) if total[b] > total[a]}
        server = dict(labels)["server"]
        ratios[server] = (namespace[server], ratio)
    _same_errors(scenario, ratios)


def _same_errors(scenario: Scenario,
                 derived: dict[str, tuple[str, dict[float, float]]]) -> None:
    """Check each service's error ratio read back against the one the scenario recorded (but
    where its failures' counter first appears: what it counted then is unseen)."""
    errors = by_labels(scenario.prometheus.series, "service:errors:ratio_rate1m")
    assert derived
    for service, (ns, samples) in derived.items():
        recorded = errors[(("namespace", ns), ("service", service))]
        first_failure = min((t for t, v in recorded.items() if v > 0), default=None)
        for t, v in samples.items():
            if t != first_failure:
                assert v == pytest.approx(recorded[t], rel=1e-3, abs=1e-6), (service, t)


def test_meshes_are_asked_for_by_name() -> None:
    assert not {"mesh", "linkerd", "service_graph", "otel"} & set(resolve(["all"]))
    assert resolve(["mesh", "drop_topology"]) == ["mesh", "drop_topology"]


def test_otel_gives_server_spans_and_the_callers_client_spans(scenario: Scenario) -> None:
    out = otel(scenario)
    assert out.topology == scenario.topology  # span metrics name no callee
    calls_total = [s for s in out.prometheus.series if s.name == "traces_span_metrics_calls_total"]
    kinds = {(s.metric["service_name"], s.metric["span_kind"]) for s in calls_total}
    for caller, callee in scenario.topology.edges:
        if (callee, "SPAN_KIND_SERVER") in kinds:
            assert (caller, "SPAN_KIND_CLIENT") in kinds
    # no namespace of their own: the one beside is the collector's, as its scrape gives it
    assert {s.metric["namespace"] for s in calls_total} == {"observability"}
    # a service's own error ratio is its server spans' (its client spans are its callees')
    derived = derive(out.prometheus.series, finite_samples)
    ratios = {s.metric["service_name"]: dict(finite_samples(s)) for s in derived
              if s.name == "traces_span_metrics_calls_error_ratio"}
    assert set(ratios) == {service for service, _ in kinds}
    errors = by_labels(scenario.prometheus.series, "service:errors:ratio_rate1m")
    for labels, recorded in errors.items():
        service = dict(labels)["service"]
        first_failure = min((t for t, v in recorded.items() if v > 0), default=None)
        for t, v in ratios[service].items():
            if t != first_failure:
                assert v == pytest.approx(recorded[t], rel=1e-3, abs=1e-6), (service, t)
    before = [a.labels for hook in scenario.alerts for a in hook.alerts]
    after = [a.labels for hook in out.alerts for a in hook.alerts]
    for old, new in zip(before, after, strict=True):
        assert new == ({k: v for k, v in old.items() if k != "service"} | {
            "service_name": old["service"]} if "service" in old else old)


def test_tempo_writes_span_metrics_in_seconds_by_service(scenario: Scenario) -> None:
    out = tempo(scenario)
    assert out.topology == scenario.topology and out.alerts == scenario.alerts
    spans = [s for s in out.prometheus.series if s.name.startswith("traces_spanmetrics_")]
    assert {s.name for s in spans} >= {"traces_spanmetrics_calls_total",
                                       "traces_spanmetrics_latency_bucket"}
    # remote-written: the service in `service`, no namespace, no scrape's labels
    assert all(set(s.metric) <= {"__name__", "service", "span_name", "span_kind",
                                 "status_code", "le"} for s in spans)
    # every other series as it was; the recorded service series became the spans
    assert [s for s in out.prometheus.series if s not in spans] == [
        s for s in scenario.prometheus.series if not s.name.startswith("service:")
        or "service" not in s.metric]
    # the histogram in seconds, unnamed: read as the same histogram named in seconds
    derived = derive(spans, finite_samples)
    p99 = {s.metric["service"]: finite_samples(s) for s in derived
           if s.name == "traces_spanmetrics_latency_seconds_p99"
           and s.metric["span_kind"] == "SPAN_KIND_SERVER"}
    raw = derive(raw_counters(scenario).prometheus.series, finite_samples)
    named = {s.metric["service"]: finite_samples(s) for s in raw
             if s.name == "http_request_duration_seconds_p99"}
    assert p99 and p99 == named


def test_otel_gives_a_pods_shares_as_the_kubeletstats_receiver_does(scenario: Scenario) -> None:
    pods = {(s.metric["namespace"], s.metric["pod"]) for s in scenario.prometheus.series
            if s.name == "pod:cpu_usage:ratio"}
    out = [s for s in otel(scenario).prometheus.series
           if s.name == "k8s_pod_cpu_limit_utilization"]
    assert pods and {(s.metric["k8s_namespace_name"], s.metric["k8s_pod_name"])
                     for s in out} == pods
    assert not any("pod" in s.metric or "namespace" in s.metric for s in out)
