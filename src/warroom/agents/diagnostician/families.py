"""Golden signals from raw exporter families, as an SRE's first queries derive them.

A setup without recording rules exposes what an instrumentation library counts: requests as a
counter split by a status label (`http_requests_total{code="500"}`, `grpc_server_handled_total
{grpc_code="Unavailable"}`), latency as a histogram (`..._bucket{le=...}`, `_sum`, `_count`).
Scored as they are, the failed requests' counter is only "traffic" and a histogram's buckets say
nothing of its tail. So before anything is scored each family becomes what a dashboard shows:

- a counter family with a status label: its failure ratio (`<family>_error_ratio`, the rates
  of failed requests over all, summed over status, method, route and exception) and its
  request rate (`<family>_requests_per_second`); a family of request rates split the same
  way, the same ratio (`service:requests:rate1m{code}` gives `service:errors:ratio_rate1m`)
  and its rates summed. Failed means a 5xx HTTP status, a gRPC code of a server-side
  failure, or a word like `error` or `failure` (client errors, 4xx, are the caller's; see
  outcomes.py). A family whose name says no rate and whose every series only grows is a
  counter without its `_total` (NGINX ingress's `nginx_ingress_controller_requests`);
- a counter of the failed requests beside the counter of all of them (`X_failed_total` and
  `X_total`, as a service graph counts calls): the same ratio and rate;
- a histogram: its 50th, 95th and 99th percentiles per sample, interpolated in the buckets as
  Prometheus' `histogram_quantile` does (`<family>_p50`, ...); a `_sum` and `_count` with no
  buckets: the mean (`<family>_avg`). Milliseconds become seconds, so the tail plays the
  latency role;
- a container's CPU seconds (cAdvisor) and working set as shares of its limits, and its
  throttled CFS periods as a share of all (`containers.py`).

A failed requests' counter that first appears after the onset is the common case (a client
library creates it at the first failure): before it exists it counted nothing, and its first
sample counts from zero at the family's scrape before it, as Prometheus' created-timestamp
zero injection records it (otherwise the first failures, a whole step of them, are lost).
The series a family was derived from are replaced by what was derived; anything else passes
unchanged.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from warroom.agents.diagnostician.containers import container_shares
from warroom.agents.diagnostician.counters import (
    Labels,
    Points,
    counter_increases,
    counter_rates,
    derived_series,
    increases,
    rates,
    without_labels,
)
from warroom.agents.diagnostician.outcomes import failed_status
from warroom.agents.diagnostician.roles import ERRORS, REQUESTS
from warroom.sensors.models import STATUS_LABELS, Series, status_label

# labels that split one service's requests by what was asked: summed, as a service dashboard does
_REQUEST_DIMENSIONS = ("method", "http_method", "http_request_method", "route", "http_route",
                       "handler", "path", "uri", "endpoint", "operation", "grpc_method",
                       "rpc_method", "span_name")
# what a request's series are summed over into one family: what was asked, every status label
# (Spring Boot's Micrometer labels one request `status="500"` and `outcome="SERVER_ERROR"`),
# and what names the failure's kind (Micrometer's `exception` or `error`, OpenTelemetry's
# `error.type`), which split the failed requests from the rest as surely as a status does
_SUMMED = (*STATUS_LABELS, "exception", "error", "error_type", *_REQUEST_DIMENSIONS)
# what tells one span metrics series of a service from another: a bucket's bound, its kind and
# what `_SUMMED` sums
_SPAN_DIMENSIONS = ("__name__", "le", "span_kind", *_SUMMED)
_MILLIS = re.compile(r"milliseconds|millis|(?<=_)ms(?=_|$)")
_UNIT = re.compile(r"seconds|millis|(?<=_)ms(?=_|$)|micro|(?<=_)us(?=_|$)|bytes", re.I)
# a family of request rates (not counters) split by status: its name says it counts requests
_RATE = re.compile(r"request|(?<![a-z])rq(?![a-z])|call|rps|qps|throughput|invocation|"
                   r"per_second|rate", re.I)  # `rq`: Envoy's `envoy_cluster_upstream_rq_xx`
_RATE_SUFFIX = re.compile(r"(_per_second|_rate\w*|_rps|_qps)$")
_PER_TIME = re.compile(r"per_second|rate|rps|qps|throughput", re.I)
# a counter of the failed requests kept beside the counter of all of them (`X_failed_total`
# and `X_total`, as a tracing backend's service graph counts calls)
_FAILED_SUFFIX = re.compile(r"_(failed|failures|errors)_total$")
_PARTS = ("_bucket", "_sum")
QUANTILES = (0.5, 0.95, 0.99)  # what the recording rules of `deploy/` take of a histogram


def derive(series: list[Series], points: Callable[[Series], Points],
           pods: list[dict[str, Any]] | None = None) -> list[Series]:
    """Return the series with every status-split counter family, every latency histogram and
    every container usage with a known limit replaced by the golden signals derived from it;
    `points` parses a series' samples, `pods` are the Pod objects (for their limits)."""
    series = container_shares(_own_spans(series), points, pods or [])
    counters: dict[tuple[str, Labels], list[tuple[Series, bool]]] = defaultdict(list)
    buckets: dict[tuple[str, Labels], list[tuple[float, Series]]] = defaultdict(list)
    parts: dict[tuple[str, Labels], dict[str, list[Series]]] = defaultdict(
        lambda: defaultdict(list))
    rest: list[Series] = []
    for s in series:
        name = s.metric.get("__name__", "")
        status = status_label(s.metric)
        failed = failed_status(status, s.metric[status]) if status else None
        if failed is not None and (name.endswith(("_total", "_count"))
                                   or _RATE.search(name) and not name.endswith(_PARTS)):
            counters[(name, without_labels(s.metric, _SUMMED))].append((s, failed))
            continue
        bound = _bound(s.metric.get("le", "")) if name.endswith("_bucket") else None
        if bound is not None:
            key = without_labels(s.metric, ("le", *_SUMMED))
            buckets[(name.removesuffix("_bucket"), key)].append((bound, s))
            continue
        suffix = next((x for x in ("_sum", "_count") if name.endswith(x)), "")
        if suffix and _is_latency(name.removesuffix(suffix)):
            parts[(name.removesuffix(suffix), without_labels(s.metric, _SUMMED))][suffix].append(s)
            continue
        rest.append(s)
    out, rest = _failed_beside_all(rest, points)
    if not counters and not buckets and not parts and not out:
        return series
    for (name, labels), members in counters.items():
        out.extend(_outcomes(name, labels, members, points,
                             counted=_counted(name, members, points)))
    for (base, labels), bins in buckets.items():
        for q, pts in _quantile_points(bins, _bins_scale(base, bins), points).items():
            out.append(derived_series(f"{_seconds(base)}_p{round(q * 100)}", labels, pts))
    histograms = {base for base, _ in buckets}
    for (base, labels), pair in parts.items():
        if base in histograms:
            continue  # its tail says more than its mean
        if len(pair) < 2:
            rest.extend(s for members in pair.values() for s in members)
            continue
        out.append(derived_series(_seconds(base) + "_avg", labels, _mean_points(
            pair["_sum"], pair["_count"], _scale(base), points)))
    return [*rest, *[s for s in out if s.values]]


def _own_spans(series: list[Series]) -> list[Series]:
    """Return the series without the client spans of a service that has server spans too.

    Span metrics count a service's calls to others as its client spans (`span_kind=
    "SPAN_KIND_CLIENT"`, or a producer's): their errors and latency are its callees', which
    span metrics do not name. A service's own server (or consumer) spans say how it answers;
    where it has none, its client spans are all there is of it and stay.
    """
    kinds: dict[Labels, set[str]] = defaultdict(set)
    for s in series:
        if kind := s.metric.get("span_kind"):
            kinds[without_labels(s.metric, _SPAN_DIMENSIONS)].add(_span_side(kind))
    answering = {key for key, sides in kinds.items() if "server" in sides}
    if not answering:
        return series
    return [s for s in series if not (
        s.metric.get("span_kind") and _span_side(s.metric["span_kind"]) == "client"
        and without_labels(s.metric, _SPAN_DIMENSIONS) in answering)]


def _span_side(kind: str) -> str:
    k = kind.upper().removeprefix("SPAN_KIND_")
    return "client" if k in ("CLIENT", "PRODUCER") else "server" if k in (
        "SERVER", "CONSUMER") else "internal"


def _failed_beside_all(series: list[Series], points: Callable[[Series], Points]
                       ) -> tuple[list[Series], list[Series]]:
    """Return the failure ratio and request rate of every pair of counters that count the
    failed requests and all requests of one place (`X_failed_total` beside `X_total`, summed
    over what was asked), and the series left. Before its failures' counter first reports, a
    place failed nothing."""
    failed: dict[tuple[str, Labels], list[Series]] = defaultdict(list)
    every: dict[tuple[str, Labels], list[Series]] = defaultdict(list)
    for s in series:
        name = s.metric.get("__name__", "")
        if name.endswith("_total"):
            key = without_labels(s.metric, _SUMMED)
            if _FAILED_SUFFIX.search(name):
                failed[(_FAILED_SUFFIX.sub("_total", name), key)].append(s)
            else:
                every[(name, key)].append(s)
    paired = failed.keys() & every.keys()
    if not paired:
        return [], series
    out: list[Series] = []
    for name, labels in sorted(paired):
        total: dict[float, float] = defaultdict(float)
        for s in every[(name, labels)]:
            for t, v in counter_rates(s, points):
                total[t] += v
        bad: dict[float, float] = defaultdict(float)
        for s in failed[(name, labels)]:
            for t, v in _created_rates([*every[(name, labels)], s], points)[id(s)]:
                bad[t] += v
        first = min(bad, default=math.inf)
        times = [t for t in sorted(total) if total[t] > 0 and (t in bad or t < first)]
        base = name.removesuffix("_total")
        out.append(derived_series(f"{base}_error_ratio", labels,
                           [(t, min(bad.get(t, 0.0) / total[t], 1.0)) for t in times]))
        requests = f"{base if 'request' in base else base + '_requests'}_per_second"
        out.append(derived_series(requests, labels, sorted(total.items())))
    used = {id(s) for key in paired for s in (*failed[key], *every[key])}
    return out, [s for s in series if id(s) not in used]


def _counted(name: str, members: list[tuple[Series, bool]],
             points: Callable[[Series], Points]) -> bool:
    """Tell whether a status-split family counts requests (a counter) rather than gives their
    rates: a `_total` or `_count`, or a name that says no rate whose every series only grows
    (NGINX ingress's `nginx_ingress_controller_requests` is a counter without the suffix)."""
    if name.endswith(("_total", "_count")):
        return True
    if _PER_TIME.search(name):
        return False
    grows = [sorted(points(s)) for s, _ in members]
    return all(len(pts) >= 3 and all(b >= a for (_, a), (_, b) in zip(pts, pts[1:],
                                                                      strict=False))
               and pts[-1][1] > pts[0][1] for pts in grows)


def _created_rates(members: list[Series], points: Callable[[Series], Points]
                   ) -> dict[int, Points]:
    """Return the rates of a counter family's members (by `id`). A member first reported after
    the rest of its family was counts from zero at the family's scrape before (created at
    zero), when its first value is no more than half again what the rest counted together in
    one interval at most; a larger one was counting before it was seen (a series missing from
    earlier scrapes)."""
    sampled = {id(s): sorted(points(s)) for s in members}
    scraped = sorted({t for pts in sampled.values() for t, _ in pts})
    own = {key: dict(increases(pts)) for key, pts in sampled.items()}
    summed: dict[float, float] = defaultdict(float)
    for incs in own.values():
        for t, inc in incs.items():
            summed[t] += inc
    out: dict[int, Points] = {}
    for key, pts in sampled.items():
        if pts and pts[0][0] > scraped[0]:
            most = max((total - own[key].get(t, 0.0) for t, total in summed.items()),
                       default=0.0)
            if 0 <= pts[0][1] <= 1.5 * most:
                pts = [(scraped[bisect_left(scraped, pts[0][0]) - 1], 0.0), *pts]
        out[key] = rates(pts)
    return out


def _outcomes(name: str, labels: Labels, members: list[tuple[Series, bool]],
              points: Callable[[Series], Points], *, counted: bool) -> list[Series]:
    """Return a status-split family's failure ratio and request rate; a counter family
    (`counted`) is turned into rates first, a family of rates is summed as it is."""
    total: dict[float, float] = defaultdict(float)
    failed: dict[float, float] = defaultdict(float)
    counts = _created_rates([s for s, _ in members], points) if counted else {}
    for s, is_failed in members:
        for t, v in counts[id(s)] if counted else points(s):
            total[t] += v
            if is_failed:
                failed[t] += v
    if counted:
        base = name.removesuffix("_total").removesuffix("_count")
        ratio = f"{base}_error_ratio"
        requests = f"{base if 'request' in base else base + '_requests'}_per_second"
    else:  # `service:requests:rate1m{code=...}`, `http_requests_per_second{status=...}`
        ratio = ERRORS if name == REQUESTS else f"{_RATE_SUFFIX.sub('', name)}_error_ratio"
        requests = name
    times = sorted(total)
    shares = [(t, failed[t] / total[t]) for t in times if total[t] > 0]
    return [derived_series(ratio, labels, shares),
            derived_series(requests, labels, [(t, total[t]) for t in times])]


def _bound(le: str) -> float | None:
    try:
        return float(le)
    except ValueError:
        return None


def _quantile_points(bins: list[tuple[float, Series]], scale: float,
                     points: Callable[[Series], Points]) -> dict[float, Points]:
    """Return the QUANTILES of a histogram per sample, from its buckets' increases (the same
    bound's buckets of several series summed)."""
    by_bound: dict[float, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for bound, s in bins:
        for t, inc in counter_increases(s, points).items():
            by_bound[bound][t] += inc
    times = sorted({t for inc in by_bound.values() for t in inc})
    bounds = sorted(by_bound)
    out: dict[float, Points] = {q: [] for q in QUANTILES}
    for t in times:
        cumulative = [(bound, by_bound[bound].get(t, 0.0)) for bound in bounds]
        for q in QUANTILES:
            v = _histogram_quantile(q, cumulative)
            if v is not None:
                out[q].append((t, v * scale))
    return out


def _histogram_quantile(q: float, cumulative: list[tuple[float, float]]) -> float | None:
    """Interpolate the q-quantile in cumulative buckets (upper bound, count), as Prometheus'
    `histogram_quantile` does: linearly within the bucket it falls in, the lower bound of the
    first bucket 0, and the highest finite bound when it falls in the `+Inf` bucket."""
    if len(cumulative) < 2 or not math.isinf(cumulative[-1][0]):
        return None
    count = cumulative[-1][1]
    if count <= 0:
        return None
    rank = q * count
    lower_bound, lower_count = 0.0, 0.0
    for bound, c in cumulative:
        if c >= rank:
            if math.isinf(bound):
                return lower_bound
            if c == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (c - lower_count)
        lower_bound, lower_count = bound, max(lower_count, c)
    return cumulative[-2][0]


def _mean_points(sums: list[Series], counts: list[Series], scale: float,
                 points: Callable[[Series], Points]) -> Points:
    """Return the mean per sample of a `_sum` and `_count` pair (several series summed)."""
    total: dict[float, float] = defaultdict(float)
    count: dict[float, float] = defaultdict(float)
    for s in sums:
        for t, inc in counter_increases(s, points).items():
            total[t] += inc
    for s in counts:
        for t, inc in counter_increases(s, points).items():
            count[t] += inc
    return [(t, total[t] / count[t] * scale) for t in sorted(count)
            if count[t] > 0 and t in total]


def _is_latency(base: str) -> bool:
    return re.search(r"latency|duration|response_time|seconds|millis|_ms$", base, re.I) is not None


def _scale(base: str) -> float:
    return 0.001 if _MILLIS.search(base) else 1.0


def _bins_scale(base: str, bins: list[tuple[float, Series]]) -> float:
    """Return the factor to seconds of a histogram's bounds: what its name says, or, for a
    latency whose name gives no unit (Grafana Tempo's `traces_spanmetrics_latency`), seconds,
    Prometheus' base unit, unless its bounds reach a thousand: milliseconds, as older
    OpenTelemetry span metrics count them."""
    if not _unitless_latency(base):
        return _scale(base)
    finite = [bound for bound, _ in bins if not math.isinf(bound)]
    return 0.001 if finite and max(finite) >= 1000 else 1.0


def _unitless_latency(base: str) -> bool:
    return _is_latency(base) and not _UNIT.search(base)


def _seconds(base: str) -> str:
    """The name of a time family in seconds: `_ms` and `milliseconds` become `seconds`, and a
    latency whose name gives no unit is in seconds once read."""
    if _MILLIS.search(base):
        return _MILLIS.sub("seconds", base)
    return f"{base}_seconds" if _unitless_latency(base) else base


