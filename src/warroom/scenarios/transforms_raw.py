"""The `raw_counters` transform: the same facts as a setup without recording rules exposes them.

An instrumentation library and cAdvisor export counters and histograms, not the rates, ratios
and quantiles of `deploy/recording-rules.yaml`. This transform turns each scenario's recorded
series back into what they would have been computed from:

- a service's request rate and error ratio -> `http_requests_total{code="200"}` and
  `{code="500"}` counters; the failures' counter appears only at the first failure, as a client
  library creates it;
- its latency quantiles (and mean) -> a histogram, `http_request_duration_seconds_bucket{le}`,
  `_sum` and `_count`, whose buckets hold the share of requests under each bound that a
  distribution through the recorded quantiles gives;
- a pod's CPU, throttling and memory shares -> `container_cpu_usage_seconds_total`,
  `container_cpu_cfs_throttled_periods_total` over `container_cpu_cfs_periods_total`,
  `container_memory_working_set_bytes`, with its limits as kube-state-metrics exports them
  (`kube_pod_container_resource_limits`, of a container with 1 core and 512 MiB);
- anything else -> its raw exporter's name (`raw_name`, as the `raw_names` transform gives it).

Every counter has one sample a step before the window, as a counter that ran before it does, so
the window's first sample has a rate; a counter never goes down.

The `mesh` transform gives the same facts as a service mesh counts them, with no call graph
beside: each service's requests, failures and latency become Istio's
`istio_requests_total{source_workload, destination_workload, response_code, reporter}` and
`istio_request_duration_milliseconds_bucket`, one series per caller (its share of the
requests; `source_workload="unknown"` for a service nothing calls), with the labels Istio adds
(response flags, security policy, versions); the alerts on a service name it as
`destination_workload`, and the topology keeps only the edges to places with no request
series (a database, an outside host), so the rest of the call graph must be read from the
metrics.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from warroom.agents.diagnostician.index import finite_samples
from warroom.ingest.models import AlertmanagerWebhook
from warroom.scenarios.models import PrometheusData, Scenario, Topology
from warroom.sensors.models import Series

CPU_LIMIT = 1.0  # cores
MEMORY_LIMIT = 512 * 2**20  # bytes
PERIODS_PER_SECOND = 10.0  # the CFS period is 100 ms
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
_REQUESTS = "service:requests:rate1m"
_ERRORS = "service:errors:ratio_rate1m"
_QUANTILES = {f"service:latency_seconds:p{q}_1m": q / 100 for q in (50, 90, 95, 99)}
_MEAN = "service:latency_seconds:avg_1m"
# what `_requests` names a service's request counter and its latency histogram
_TOTAL, _LATENCY = "http_requests_total", "http_request_duration_seconds"
Samples = dict[float, float]
Labels = tuple[tuple[str, str], ...]


# what another exporter calls the facts our recording rules name; any other recording rule
# (`db:connections:ratio`) becomes `db_connections_ratio`
RAW_NAMES = {
    "pod:cpu_usage:ratio": "container_cpu_utilisation_ratio",
    "pod:cpu_throttled:ratio": "container_cpu_cfs_throttled_ratio",
    "pod:memory_working_set:ratio": "container_memory_working_set_usage",
    "pod:network_latency_seconds:p99_1m": "pod_network_rtt_seconds_p99",
    "node:cpu_usage:ratio": "node_cpu_utilisation_ratio",
    "node:memory_usage:ratio": "node_memory_utilisation_ratio",
    "node:filesystem_usage:ratio": "node_filesystem_usage_ratio",
    "service:errors:ratio_rate1m": "http_server_requests_error_ratio",
    "service:requests:rate1m": "http_server_requests_per_second",
    "service:latency_seconds:p99_1m": "http_server_request_duration_seconds_p99",
    "service:latency_seconds:p95_1m": "http_server_request_duration_seconds_p95",
    "service:latency_seconds:p90_1m": "http_server_request_duration_seconds_p90",
    "service:latency_seconds:p50_1m": "http_server_request_duration_seconds_p50",
    "service:latency_seconds:avg_1m": "http_server_request_duration_seconds_avg",
}


def relabelled_alerts(hooks: list[AlertmanagerWebhook],
                      labels: Callable[[dict[str, str]], dict[str, str]]
                      ) -> list[AlertmanagerWebhook]:
    """Return the webhooks with `labels` applied to their group's, common and every alert's
    labels."""
    return [hook.model_copy(update={
        "common_labels": labels(hook.common_labels), "group_labels": labels(hook.group_labels),
        "alerts": [a.model_copy(update={"labels": labels(a.labels)}) for a in hook.alerts]})
        for hook in hooks]


def raw_name(name: str) -> str:
    """Return the name a raw exporter gives the fact a recording rule names."""
    return RAW_NAMES.get(name) or name.replace(":", "_")


def raw_counters(scenario: Scenario, seed: int = 0) -> Scenario:
    """Give every recorded series the counters, histograms and gauges it was computed from."""
    by_place: dict[Labels, dict[str, Series]] = defaultdict(dict)
    for item in scenario.prometheus.series:
        by_place[_labels(item)][item.metric.get("__name__", "")] = item
    out: list[Series] = []
    for labels, named in by_place.items():
        samples = {name: dict(finite_samples(s)) for name, s in named.items()}
        used = _requests(dict(labels), samples, out)
        used |= _pod(dict(labels), samples, out)
        for name, s in named.items():
            if name not in used:
                out.append(s.model_copy(update={"metric": {**s.metric,
                                                           "__name__": raw_name(name)}}))
    return scenario.model_copy(update={"prometheus": PrometheusData(
        step_seconds=scenario.prometheus.step_seconds, series=out)})


def _labels(s: Series) -> Labels:
    return tuple(sorted((k, v) for k, v in s.metric.items() if k != "__name__"))


def _counter(rate: Samples) -> list[tuple[float, float]]:
    """Integrate per-second rates into a counter, with a sample one step before the first."""
    times = sorted(rate)
    if len(times) < 2:
        return []
    first = times[0] - (times[1] - times[0])
    total, prev, out = 0.0, first, [(first, 0.0)]
    for t in times:
        total += max(rate[t], 0.0) * (t - prev)
        prev = t
        out.append((t, total))
    return out


def _add(out: list[Series], name: str, labels: dict[str, str],
         pts: list[tuple[float, float]]) -> None:
    if pts:
        out.append(Series(metric={"__name__": name, **labels},
                          values=[(t, f"{v:.9g}") for t, v in pts]))


def _requests(labels: dict[str, str], samples: dict[str, Samples], out: list[Series]
              ) -> set[str]:
    """Turn a service's request rate, error ratio and latency into counters and a histogram."""
    rate, errors = samples.get(_REQUESTS), samples.get(_ERRORS)
    quantiles = {q: samples[name] for name, q in _QUANTILES.items() if name in samples}
    if rate is None and errors is None and not quantiles:
        return set()
    times = sorted(set(rate or {}) | set(errors or {}).union(*quantiles.values()))
    if rate is None:  # a ratio or a latency with no rate: one request a second
        rate = dict.fromkeys(times, 1.0)
    ratio = errors or {}
    ok = _counter({t: rate[t] * (1 - min(max(ratio.get(t, 0.0), 0.0), 1.0)) for t in rate})
    failed = _counter({t: rate[t] * min(max(ratio.get(t, 0.0), 0.0), 1.0) for t in rate})
    _add(out, _TOTAL, {**labels, "code": "200"}, ok)
    started = next((i for i, (_, v) in enumerate(failed) if v > 0), None)
    if started is not None:  # created at the first failure: what it counted before is unseen
        _add(out, _TOTAL, {**labels, "code": "500"}, failed[started:])
    used = {_REQUESTS, _ERRORS}
    if quantiles:
        used |= set(_QUANTILES) & set(samples) | {_MEAN}
        _histogram(labels, rate, quantiles, samples.get(_MEAN), out)
    return used


def _histogram(labels: dict[str, str], rate: Samples, quantiles: dict[float, Samples],
               mean: Samples | None, out: list[Series]) -> None:
    times = sorted(t for t in rate if any(t in q for q in quantiles.values()))
    known = {t: {q: s[t] for q, s in quantiles.items() if t in s} for t in times}
    demand = {t: rate[t] for t in times}
    _add(out, "http_request_duration_seconds_count", labels, _counter(demand))
    average = {t: (mean or {}).get(t, _median(known[t])) * demand[t] for t in times}
    _add(out, "http_request_duration_seconds_sum", labels, _counter(average))
    for bound in BOUNDS:
        under = {t: demand[t] * _share_under(bound, known[t]) for t in times}
        le = "+Inf" if bound == float("inf") else f"{bound:g}"
        _add(out, "http_request_duration_seconds_bucket", {**labels, "le": le}, _counter(under))


def _median(known: dict[float, float]) -> float:
    return known.get(0.5, min(known.values()))


def _share_under(x: float, known: dict[float, float]) -> float:
    """The share of requests at or under x: linear through (0, 0), the known quantiles and
    twice the highest of them, where every request has arrived."""
    if x == float("inf"):
        return 1.0
    knots = [(0.0, 0.0)]
    for q, v in sorted(known.items()):
        if v > knots[-1][0] and q > knots[-1][1]:
            knots.append((v, q))
    knots.append((max(2 * knots[-1][0], 1e-9), 1.0))
    for (v0, q0), (v1, q1) in zip(knots, knots[1:], strict=False):
        if x <= v1:
            return q0 + (q1 - q0) * (x - v0) / (v1 - v0)
    return 1.0


def _pod(labels: dict[str, str], samples: dict[str, Samples], out: list[Series]) -> set[str]:
    """Turn a pod's shares of its limits into cAdvisor's counters and gauges and its limits."""
    if not labels.get("pod"):
        return set()
    labels = {**labels, "container": labels.get("container") or labels["pod"].rsplit("-", 2)[0]}
    used: set[str] = set()
    if (cpu := samples.get("pod:cpu_usage:ratio")) is not None:
        _add(out, "container_cpu_usage_seconds_total", labels,
             _counter({t: v * CPU_LIMIT for t, v in cpu.items()}))
        used.add("pod:cpu_usage:ratio")
    if (throttled := samples.get("pod:cpu_throttled:ratio")) is not None:
        _add(out, "container_cpu_cfs_periods_total", labels,
             _counter(dict.fromkeys(throttled, PERIODS_PER_SECOND)))
        _add(out, "container_cpu_cfs_throttled_periods_total", labels,
             _counter({t: v * PERIODS_PER_SECOND for t, v in throttled.items()}))
        used.add("pod:cpu_throttled:ratio")
    if (memory := samples.get("pod:memory_working_set:ratio")) is not None:
        _add(out, "container_memory_working_set_bytes", labels,
             [(t, v * MEMORY_LIMIT) for t, v in sorted(memory.items())])
        used.add("pod:memory_working_set:ratio")
    if used:
        times = sorted({t for name in used for t in samples[name]})
        for resource, limit in (("cpu", CPU_LIMIT), ("memory", MEMORY_LIMIT)):
            _add(out, "kube_pod_container_resource_limits",
                 {**labels, "resource": resource, "unit": "core" if resource == "cpu" else "byte"},
                 [(t, limit) for t in times])
    return used


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
    callers: dict[str, list[str]] = defaultdict(list)
    for caller, callee in scenario.topology.edges:
        callers[callee].append(caller)
    namespace = {s.metric["service"]: s.metric.get("namespace", "")
                 for s in scenario.prometheus.series if s.metric.get("service")}
    by_service: dict[Labels, dict[str, Series]] = defaultdict(dict)
    out: list[Series] = []
    for item in scenario.prometheus.series:
        name = item.metric.get("__name__", "")
        if item.metric.get("service") and (name in (_REQUESTS, _ERRORS, _MEAN)
                                           or name in _QUANTILES):
            by_service[_labels(item)][name] = item
        else:
            out.append(item)
    meshed: set[str] = set()
    for labels, named in by_service.items():
        place = dict(labels)
        service, ns = place.pop("service"), place.pop("namespace", "")
        samples = {name: dict(finite_samples(s)) for name, s in named.items()}
        sources = callers.get(service) or ["unknown"]
        share = 1 / len(sources)
        if _REQUESTS in samples:
            samples[_REQUESTS] = {t: v * share for t, v in samples[_REQUESTS].items()}
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


def _istio_calls(place: dict[str, str], source: str, source_ns: str, service: str, ns: str,
                 samples: dict[str, Samples]) -> list[Series]:
    call = {**place, **_ISTIO, "source_workload": source, "source_workload_namespace": source_ns,
            "destination_workload": service, "destination_workload_namespace": ns,
            "destination_service_name": service,
            "destination_service": f"{service}.{ns or 'default'}.svc.cluster.local"}
    made: list[Series] = []
    _requests(call, samples, made)
    return [_istio(s) for s in made]


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
    made: list[Series] = []
    _requests(call, samples, made)
    out = []
    for s in made:
        labels = {k: v for k, v in s.metric.items() if k != "code"}
        if "code" in s.metric:
            labels["classification"] = "failure" if s.metric["code"] == "500" else "success"
        out.append(_in_millis(s, labels, "response_total", "response_latency_ms"))
    return out


def _graph_calls(place: dict[str, str], source: str, source_ns: str, service: str, ns: str,
                 samples: dict[str, Samples]) -> list[Series]:
    """A service graph's request and failed-request counters and server-side histogram. A
    graph counts only calls between traced services: a service nothing calls keeps its own
    instrumentation's counters and histogram."""
    made: list[Series] = []
    if source == "unknown":
        _requests({**place, "service": service, "namespace": ns}, samples, made)
        return made
    call = {**place, "client": source, "server": service}
    _requests(call, samples, made)
    counted = {s.metric.get("code"): s for s in made if s.metric["__name__"] == _TOTAL}
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
        if s.metric["__name__"].startswith(_LATENCY):
            out.append(s.model_copy(update={"metric": {**s.metric, "__name__": s.metric[
                "__name__"].replace(_LATENCY, "traces_service_graph_request_server_seconds")}}))
    return out


def _istio(s: Series) -> Series:
    """Name a counter or histogram series of `_requests` as Istio does (milliseconds)."""
    labels = {k: v for k, v in s.metric.items() if k != "code"}
    if "code" in s.metric:
        labels["response_code"] = s.metric["code"]
    return _in_millis(s, labels, "istio_requests_total", "istio_request_duration_milliseconds")


def _in_millis(s: Series, labels: dict[str, str], total: str, latency: str) -> Series:
    """Rename a series of `_requests` to a mesh's request counter `total` or its latency
    histogram `latency`, in milliseconds."""
    name = s.metric["__name__"]
    if name == _TOTAL:
        return Series(metric={**labels, "__name__": total}, values=s.values)
    suffix = name.rsplit("_", 1)[1]
    values = s.values
    if suffix == "bucket" and labels["le"] != "+Inf":
        labels["le"] = f"{float(labels['le']) * 1000:g}"
    elif suffix == "sum":
        values = [(t, f"{float(v) * 1000:.9g}") for t, v in s.values]
    return Series(metric={**labels, "__name__": f"{latency}_{suffix}"}, values=values)
