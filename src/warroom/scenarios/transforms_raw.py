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
- anything else -> its raw exporter's name (`raw_name`, as the `raw_names` transform gives it);
  a node's series as kube-prometheus scrapes node-exporter (the node only in
  `instance="NODE:9100"`, beside the exporter's own pod, namespace, Service and job).

Every counter has one sample a step before the window, as a counter that ran before it does, so
the window's first sample has a rate; a counter never goes down.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from warroom.agents.diagnostician.index import finite_samples
from warroom.ingest.models import AlertmanagerWebhook
from warroom.scenarios.models import PrometheusData, Scenario
from warroom.sensors.models import Series

CPU_LIMIT = 1.0  # cores
MEMORY_LIMIT = 512 * 2**20  # bytes
PERIODS_PER_SECOND = 10.0  # the CFS period is 100 ms
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))
REQUESTS = "service:requests:rate1m"
ERRORS = "service:errors:ratio_rate1m"
QUANTILES = {f"service:latency_seconds:p{q}_1m": q / 100 for q in (50, 90, 95, 99)}
MEAN = "service:latency_seconds:avg_1m"
# what `_requests` names a service's request counter and its latency histogram
TOTAL, LATENCY = "http_requests_total", "http_request_duration_seconds"
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
        by_place[place_labels(item)][item.metric.get("__name__", "")] = item
    out: list[Series] = []
    for labels, named in by_place.items():
        samples = {name: dict(finite_samples(s)) for name, s in named.items()}
        used = request_series(dict(labels), samples, out)
        used |= _pod(dict(labels), samples, out)
        for name, s in named.items():
            if name not in used:
                out.append(s.model_copy(update={"metric": {**_scraped(s.metric),
                                                           "__name__": raw_name(name)}}))
    return scenario.model_copy(update={"prometheus": PrometheusData(
        step_seconds=scenario.prometheus.step_seconds, series=out)})


# the labels kube-prometheus' scrape gives node-exporter's series (its DaemonSet's pod)
_NODE_EXPORTER = {"job": "node-exporter", "namespace": "monitoring",
                  "pod": "node-exporter-x7k2p", "service": "node-exporter",
                  "container": "node-exporter", "endpoint": "https"}


def _scraped(labels: dict[str, str]) -> dict[str, str]:
    """A node's series as kube-prometheus scrapes node-exporter: the node only as the host of
    its `instance`, beside the exporter's own pod, namespace, Service and job."""
    if not labels.get("node") or labels.get("pod"):
        return labels
    rest = {k: v for k, v in labels.items() if k != "node"}
    return {**rest, **_NODE_EXPORTER, "instance": f"{labels['node']}:9100"}


def place_labels(s: Series) -> Labels:
    """Return a series' labels but its name: the place and dimensions it measures."""
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


def request_series(labels: dict[str, str], samples: dict[str, Samples], out: list[Series]
              ) -> set[str]:
    """Turn a service's request rate, error ratio and latency into counters and a histogram
    (`TOTAL{code}` and `LATENCY_bucket{le}`, `_sum`, `_count`), added to `out`; return the
    names of the series used."""
    rate, errors = samples.get(REQUESTS), samples.get(ERRORS)
    quantiles = {q: samples[name] for name, q in QUANTILES.items() if name in samples}
    if rate is None and errors is None and not quantiles:
        return set()
    times = sorted(set(rate or {}) | set(errors or {}).union(*quantiles.values()))
    if rate is None:  # a ratio or a latency with no rate: one request a second
        rate = dict.fromkeys(times, 1.0)
    ratio = errors or {}
    ok = _counter({t: rate[t] * (1 - min(max(ratio.get(t, 0.0), 0.0), 1.0)) for t in rate})
    failed = _counter({t: rate[t] * min(max(ratio.get(t, 0.0), 0.0), 1.0) for t in rate})
    _add(out, TOTAL, {**labels, "code": "200"}, ok)
    started = next((i for i, (_, v) in enumerate(failed) if v > 0), None)
    if started is not None:  # created at the first failure: what it counted before is unseen
        _add(out, TOTAL, {**labels, "code": "500"}, failed[started:])
    used = {REQUESTS, ERRORS}
    if quantiles:
        used |= set(QUANTILES) & set(samples) | {MEAN}
        _histogram(labels, rate, quantiles, samples.get(MEAN), out)
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
