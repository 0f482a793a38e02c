"""The `mesh`, `linkerd`, `service_graph`, `otel` and `tempo` transforms: a service's requests
as the calls between services are counted by a service mesh, a tracing backend or
OpenTelemetry.

- `mesh`: each service's requests, failures and latency become Istio's
  `istio_requests_total{source_workload, destination_workload, response_code, reporter}` and
  `istio_request_duration_milliseconds_bucket`, one series per caller (its share of the
  requests; `source_workload="unknown"` for a service nothing calls), with the labels Istio
  adds (response flags, security policy, versions); the alerts on a service name it as
  `destination_workload`;
- `linkerd`: Linkerd's outbound `response_total{deployment, dst_deployment, classification}`
  and `response_latency_ms_bucket` (a service nothing calls: its own proxy's inbound series);
- `service_graph`: a tracing backend's `traces_service_graph_request_total{client, server}`,
  `..._request_failed_total` and `..._request_server_seconds_bucket`, with no namespaces;
- `otel`: OpenTelemetry's span metrics, `traces_span_metrics_calls_total{service_name,
  span_name, span_kind, status_code}` and `traces_span_metrics_duration_milliseconds_bucket`:
  each service's server spans, and its callers' client spans of their calls to it; and a pod's
  shares of its limits as the kubeletstats receiver gives them
  (`k8s_pod_cpu_limit_utilization{k8s_namespace_name, k8s_pod_name}`);
- `tempo`: span metrics as Grafana Tempo's metrics generator writes them,
  `traces_spanmetrics_calls_total{service, span_kind, status_code}` and
  `traces_spanmetrics_latency_bucket` in seconds (no unit in its name), with no scrape's
  labels; the rest of the scenario as it was.

The first three keep in the topology only the edges to places with no request series (a
database, an outside host), so the rest of the call graph must be read from the metrics; span
metrics name no callee, so `otel` and `tempo` keep the topology.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from warroom.agents.diagnostician.index import finite_samples
from warroom.scenarios.models import PrometheusData, Scenario, Topology
from warroom.scenarios.transforms_raw import (
    ERRORS,
    LATENCY,
    MEAN,
    QUANTILES,
    REQUESTS,
    TOTAL,
    Labels,
    Samples,
    place_labels,
    relabelled_alerts,
    request_series,
)
from warroom.sensors.models import Series

# a pod's shares of its limits as OpenTelemetry's kubeletstats receiver names them, and the
# Kubernetes attributes it labels them with
_KUBELETSTATS = {"pod:cpu_usage:ratio": "k8s_pod_cpu_limit_utilization",
                 "pod:memory_working_set:ratio": "k8s_pod_memory_limit_utilization"}
_K8S_ATTRIBUTES = {"namespace": "k8s_namespace_name", "pod": "k8s_pod_name",
                   "container": "k8s_container_name", "node": "k8s_node_name"}
# what a scrape of the OpenTelemetry collector adds to the span metrics it exports
_COLLECTOR = {"job": "otel-collector", "namespace": "observability",
              "pod": "otel-collector-6b7d9c-x2k4p", "service": "otel-collector"}
# the labels Istio's standard metrics carry beside a call's two sides and its status
_ISTIO = {"reporter": "destination", "response_flags": "-", "request_protocol": "http",
          "connection_security_policy": "mutual_tls", "source_version": "v1",
          "destination_version": "v1"}


def mesh(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every service's golden signals as Istio's per-call metrics, and drop the edges
    to them from the topology."""
    return _meshed(scenario, _istio_calls,
                   ("destination_workload", "destination_workload_namespace"))


def linkerd(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every service's golden signals as Linkerd's outbound metrics, as the metrics
    sensor sums them, and drop the edges to them from the topology."""
    return _meshed(scenario, _linkerd_calls, ("deployment", "namespace"))


def service_graph(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every service's golden signals as a tracing backend's service graph counts them,
    and drop the edges to them from the topology."""
    return _meshed(scenario, _graph_calls, ("service", "namespace"))


# (the place's other labels, caller, caller's namespace, callee, callee's namespace, the
# callee's samples) -> the series a mesh counts of those calls
Calls = Callable[[dict[str, str], str, str, str, str, dict[str, Samples]], list[Series]]


def _meshed(scenario: Scenario, calls: Calls, alert_labels: tuple[str, str]) -> Scenario:
    """Replace each service's request series by a mesh's series of the calls to it, one set
    per caller (`unknown` for a service nothing calls); its alerts name it and its namespace
    by `alert_labels`."""
    callers, by_service, out = _requests_by_service(scenario)
    namespace = {s.metric["service"]: s.metric.get("namespace", "")
                 for s in scenario.prometheus.series if s.metric.get("service")}
    meshed: set[str] = set()
    for labels, named in by_service.items():
        place = dict(labels)
        service, ns = place.pop("service"), place.pop("namespace", "")
        sources = callers.get(service) or ["unknown"]
        samples = _shared(named, len(sources))
        for source in sources:
            out.extend(calls(place, source, namespace.get(source, ns), service, ns, samples))
        meshed.add(service)

    def as_callee(labels: dict[str, str]) -> dict[str, str]:
        if labels.get("service") not in meshed:
            return labels
        rest = {k: v for k, v in labels.items() if k != "service"}
        name, ns = alert_labels
        return {**rest, name: labels["service"], ns: labels.get("namespace", "")}

    alerts = relabelled_alerts(scenario.alerts, as_callee)
    # a mesh counts only the requests of services it runs beside: the edges to a database or
    # an outside host with no request series of its own stay as they were
    kept = [edge for edge in scenario.topology.edges if edge[1] not in meshed]
    return scenario.model_copy(update={
        "alerts": alerts, "topology": Topology(edges=kept),
        "prometheus": PrometheusData(step_seconds=scenario.prometheus.step_seconds, series=out)})


def otel(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every service's golden signals as OpenTelemetry's span metrics count them: its
    server spans, and each caller's client spans of its calls to it (its share of them),
    named by `service_name` with no namespace, as the span metrics connector exports them; a
    pod's shares of its CPU and memory limits as the kubeletstats receiver does, with
    OpenTelemetry's Kubernetes attributes; an alert names its service by `service_name`."""
    spans, spanned, rest = _spanned(scenario, "service_name", _spans)

    def by_service_name(labels: dict[str, str]) -> dict[str, str]:
        if labels.get("service") not in spanned:
            return labels
        rest = {k: v for k, v in labels.items() if k != "service"}
        return {**rest, "service_name": labels["service"]}

    return scenario.model_copy(update={
        "alerts": relabelled_alerts(scenario.alerts, by_service_name),
        "prometheus": PrometheusData(step_seconds=scenario.prometheus.step_seconds,
                                     series=[*map(_kubeletstats, rest), *spans])})


def tempo(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every service's golden signals as Grafana Tempo's metrics generator writes them
    (remote-written, so with no scrape's labels): `traces_spanmetrics_calls_total{service,
    span_name, span_kind, status_code}` and `traces_spanmetrics_latency_bucket`, in seconds
    with no unit in its name, for its server spans and its callers' client spans, with no
    namespace; every other series and the alerts stay as they are."""
    spans, _, rest = _spanned(scenario, "service", _tempo_spans)
    return scenario.model_copy(update={"prometheus": PrometheusData(
        step_seconds=scenario.prometheus.step_seconds, series=[*rest, *spans])})


SpanSeries = Callable[[dict[str, str], dict[str, Samples]], list[Series]]


def _spanned(scenario: Scenario, label: str, spans: SpanSeries
             ) -> tuple[list[Series], set[str], list[Series]]:
    """Return the span metrics of every service's server spans and of its callers' client
    spans (their share of its requests each), the service named in `label` and with no
    namespace; the services so counted; and every other series."""
    callers, by_service, rest = _requests_by_service(scenario)
    out: list[Series] = []
    spanned: set[str] = set()
    for labels, named in by_service.items():
        place = dict(labels)
        service = place.pop("service")
        place.pop("namespace", None)
        server = {**place, label: service, "span_name": f"GET /{service}",
                  "span_kind": "SPAN_KIND_SERVER"}
        out.extend(spans(server, _shared(named, 1)))
        clients = callers.get(service, [])
        share = _shared(named, len(clients)) if clients else {}
        for caller in clients:
            client = {label: caller, "span_name": f"GET {service}",
                      "span_kind": "SPAN_KIND_CLIENT"}
            out.extend(spans(client, share))
        spanned.add(service)
    return out, spanned, rest


def _tempo_spans(labels: dict[str, str], samples: dict[str, Samples]) -> list[Series]:
    """Span metrics as Tempo's metrics generator names them: calls by status (UNSET for an
    unmarked span) and a latency histogram in seconds, with no unit in its name."""
    return _counted_as(labels, samples, ("status_code", "STATUS_CODE_ERROR", "STATUS_CODE_UNSET"),
                       "traces_spanmetrics_calls_total", "traces_spanmetrics_latency",
                       millis=False)


def _kubeletstats(s: Series) -> Series:
    """A pod's share of its CPU or memory limit as the kubeletstats receiver names it."""
    name = _KUBELETSTATS.get(s.name)
    if name is None or not s.metric.get("pod"):
        return s
    labels = {_K8S_ATTRIBUTES.get(k, k): v for k, v in s.metric.items() if k != "__name__"}
    return s.model_copy(update={"metric": {"__name__": name, **labels}})


def _requests_by_service(scenario: Scenario) -> tuple[
        dict[str, list[str]], dict[Labels, dict[str, Series]], list[Series]]:
    """Return each service's callers, its request series by their labels, and every other
    series."""
    callers: dict[str, list[str]] = defaultdict(list)
    for caller, callee in scenario.topology.edges:
        callers[callee].append(caller)
    by_service: dict[Labels, dict[str, Series]] = defaultdict(dict)
    out: list[Series] = []
    for item in scenario.prometheus.series:
        name = item.metric.get("__name__", "")
        if item.metric.get("service") and (name in (REQUESTS, ERRORS, MEAN)
                                           or name in QUANTILES):
            by_service[place_labels(item)][name] = item
        else:
            out.append(item)
    return callers, by_service, out


def _shared(named: dict[str, Series], parts: int) -> dict[str, Samples]:
    """Return a service's request samples by name, its request rate split in `parts`."""
    samples = {name: dict(finite_samples(s)) for name, s in named.items()}
    if REQUESTS in samples:
        samples[REQUESTS] = {t: v / parts for t, v in samples[REQUESTS].items()}
    return samples


def _spans(labels: dict[str, str], samples: dict[str, Samples]) -> list[Series]:
    """Span metrics of one service's spans: calls by status (an unmarked span is UNSET) and
    their duration histogram, in milliseconds, as kube-prometheus scrapes them from the
    collector (its own pod, namespace and Service beside)."""
    return _counted_as({**labels, **_COLLECTOR}, samples,
                       ("status_code", "STATUS_CODE_ERROR", "STATUS_CODE_UNSET"),
                       "traces_span_metrics_calls_total",
                       "traces_span_metrics_duration_milliseconds")


def _istio_calls(place: dict[str, str], source: str, source_ns: str, service: str, ns: str,
                 samples: dict[str, Samples]) -> list[Series]:
    call = {**place, **_ISTIO, "source_workload": source, "source_workload_namespace": source_ns,
            "destination_workload": service, "destination_workload_namespace": ns,
            "destination_service_name": service,
            "destination_service": f"{service}.{ns or 'default'}.svc.cluster.local"}
    return _counted_as(call, samples, ("response_code", "500", "200"), "istio_requests_total",
                       "istio_request_duration_milliseconds")


def _linkerd_calls(place: dict[str, str], source: str, source_ns: str, service: str, ns: str,
                   samples: dict[str, Samples]) -> list[Series]:
    """Linkerd's `response_total{classification}` and `response_latency_ms` histogram: from
    each caller's proxy (outbound), or the service's own (inbound) when nothing in the mesh
    calls it."""
    if source == "unknown":
        call = {**place, "direction": "inbound", "deployment": service, "namespace": ns}
    else:
        call = {**place, "direction": "outbound", "deployment": source, "namespace": source_ns,
                "dst_deployment": service, "dst_namespace": ns}
    return _counted_as(call, samples, ("classification", "failure", "success"),
                       "response_total", "response_latency_ms")


def _graph_calls(place: dict[str, str], source: str, source_ns: str, service: str, ns: str,
                 samples: dict[str, Samples]) -> list[Series]:
    """A service graph's request and failed-request counters and server-side histogram. A
    graph counts only calls between traced services: a service nothing calls keeps its own
    instrumentation's counters and histogram."""
    made: list[Series] = []
    if source == "unknown":
        request_series({**place, "service": service, "namespace": ns}, samples, made)
        return made
    call = {**place, "client": source, "server": service}
    request_series(call, samples, made)
    counted = {s.metric.get("code"): s for s in made if s.metric["__name__"] == TOTAL}
    out: list[Series] = []
    if (ok := counted.get("200")) is not None:  # the request counter counts failures too
        failures = dict(counted["500"].values) if "500" in counted else {}
        out.append(Series(
            metric={"__name__": "traces_service_graph_request_total", **call},
            values=[(t, f"{float(v) + float(failures.get(t, 0)):.9g}") for t, v in ok.values]))
    if "500" in counted:
        out.append(Series(metric={"__name__": "traces_service_graph_request_failed_total",
                                  **call}, values=counted["500"].values))
    for s in made:
        if s.metric["__name__"].startswith(LATENCY):
            out.append(s.model_copy(update={"metric": {**s.metric, "__name__": s.metric[
                "__name__"].replace(LATENCY, "traces_service_graph_request_server_seconds")}}))
    return out


def _counted_as(labels: dict[str, str], samples: dict[str, Samples],
                status: tuple[str, str, str], total: str, latency: str, *,
                millis: bool = True) -> list[Series]:
    """A service's request counter and latency histogram (`request_series`) as another
    exporter names them: the status in the label `status[0]`, `status[1]` for a failure and
    `status[2]` otherwise, the counter called `total` and the histogram `latency` (in ms, or
    in seconds when not `millis`)."""
    made: list[Series] = []
    request_series(labels, samples, made)
    label, failed, ok = status
    out = []
    for s in made:
        named = {k: v for k, v in s.metric.items() if k != "code"}
        if "code" in s.metric:
            named[label] = failed if s.metric["code"] == "500" else ok
        out.append(_renamed(s, named, total, latency, millis))
    return out


def _renamed(s: Series, labels: dict[str, str], total: str, latency: str,
             millis: bool) -> Series:
    """Rename a series of `_requests` to a mesh's request counter `total` or its latency
    histogram `latency`, in milliseconds when `millis`."""
    name = s.metric["__name__"]
    if name == TOTAL:
        return Series(metric={**labels, "__name__": total}, values=s.values)
    suffix = name.rsplit("_", 1)[1]
    values = s.values
    if millis and suffix == "bucket" and labels["le"] != "+Inf":
        labels["le"] = f"{float(labels['le']) * 1000:g}"
    elif millis and suffix == "sum":
        values = [(t, f"{float(v) * 1000:.9g}") for t, v in s.values]
    return Series(metric={**labels, "__name__": f"{latency}_{suffix}"}, values=values)
