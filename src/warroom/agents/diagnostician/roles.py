"""The role a series plays for the fingerprint rules, whatever its exporter named it.

The fingerprint rules (`metrics.py`) read a few series by their canonical recording-rule names:
a pod's CPU, throttling and memory as shares of its limits, a service's error ratio and request
rate. Another exporter names the same facts otherwise (`container_cpu_utilisation_ratio`,
`http_requests_error_ratio`); such a series plays the canonical role when the generic words of
its name say which fact it is and its values are what that role holds: a share of a limit
(0..1, a little over for CPU bursting) for the ratios. Names in other units (per cent, bytes,
milliseconds) keep their own name: the anomaly method (`anomaly.py`) still scores them.
"""

from __future__ import annotations

import re

from warroom.sensors.models import Series

CPU = "pod:cpu_usage:ratio"
THROTTLED = "pod:cpu_throttled:ratio"
MEMORY = "pod:memory_working_set:ratio"
NODE_CPU = "node:cpu_usage:ratio"
NODE_MEMORY = "node:memory_usage:ratio"
NODE_FILESYSTEM = "node:filesystem_usage:ratio"
DB_CPU = "db:cpu_usage:ratio"
DB_CONNECTIONS = "db:connections:ratio"
DB_STORAGE = "db:storage_usage:ratio"
DB_LAG = "db:replication_lag_seconds"
CERT_EXPIRY = "probe:ssl_expiry_seconds"
ERRORS = "service:errors:ratio_rate1m"
REQUESTS = "service:requests:rate1m"
CANONICAL = frozenset({CPU, THROTTLED, MEMORY, NODE_CPU, NODE_MEMORY, NODE_FILESYSTEM, DB_CPU,
                       DB_CONNECTIONS, DB_STORAGE, DB_LAG, CERT_EXPIRY, ERRORS, REQUESTS})
# how a database's own exporters begin their names (any vendor)
DATABASE_PREFIXES = ("db:", "aws_rds", "rds_", "pg_", "mysql_", "redis_", "mongodb_")
# labels only a database instance's own series carry (CloudWatch, the RDS exporters)
DB_LABELS = ("dbinstance_identifier", "db_instance_identifier", "db_cluster_identifier")

_SHARE = re.compile(r"ratio|utili[sz]ation|usage|share|fraction", re.I)
_NOT_A_SHARE = re.compile(r"percent|pct|bytes|seconds|millis|_ms\b|count|total", re.I)
# a pod's shares of its limits, most specific first
_POD_SHARES = ((THROTTLED, re.compile(r"throttl", re.I)), (CPU, re.compile(r"cpu", re.I)),
               (MEMORY, re.compile(r"mem", re.I)))
# a node's shares of its capacity
_NODE_SHARES = ((NODE_FILESYSTEM, re.compile(r"filesystem|disk|_fs_|\bfs_", re.I)),
                (NODE_CPU, re.compile(r"cpu", re.I)), (NODE_MEMORY, re.compile(r"mem", re.I)))
# a latency in seconds, and which quantile of it (a name's `p99`, or a `quantile` label)
_LATENCY = re.compile(r"latency|duration|response_time|rtt|round_trip", re.I)
_SECONDS = re.compile(r"seconds", re.I)
# a quantile of a time in seconds (a histogram's, as families.py names it): a latency, whatever
# the family calls what it times (Micrometer's `http_server_requests_seconds`)
_SECONDS_QUANTILE = re.compile(r"seconds_p\d{2}$", re.I)
_QUANTILE = re.compile(r"(?:^|[_:.])p(\d{2})(?:$|[_:.])", re.I)
_NETWORK = re.compile(r"network|rtt|round_trip", re.I)
# a database instance's shares of its capacity, most specific first
_DB_SHARES = ((DB_CONNECTIONS, re.compile(r"connection", re.I)),
              (DB_STORAGE, re.compile(r"storage|disk|volume", re.I)),
              (DB_CPU, re.compile(r"cpu", re.I)))
_LAG = re.compile(r"replica\w*_lag|lag_seconds", re.I)
# seconds left until a served certificate expires (not the expiry's own timestamp)
_CERT = re.compile(r"(ssl|tls|cert)\w*expir|expir\w*(ssl|tls|cert)", re.I)
EPOCH = 1e9  # a value this large in seconds is a date, not a duration
_ERRORS = re.compile(r"error|fail|5xx", re.I)
_REQUESTS = re.compile(r"request|rps|qps|throughput", re.I)
_PER_SECOND = re.compile(r"rate|per_second|rps|qps|throughput", re.I)
_NOT_DEMAND = re.compile(r"error|fail|5xx|latency|duration|bytes|size", re.I)
MAX_SHARE = 1.5  # a CPU share bursts a little over its limit; nothing else goes past 1
# the suffixes of a counter's or a histogram's series, never a quantile's value
COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")


def role_of(series: Series, pts: list[tuple[float, float]]) -> str:
    """Return the canonical name whose role a series plays, or its own name."""
    name = series.name
    if name in CANONICAL or not pts or ":" in name:
        return name  # a recording rule's name is already what it means
    values = [v for _, v in pts]
    share = (_SHARE.search(name) is not None and _NOT_A_SHARE.search(name) is None
             and min(values) >= 0 and max(values) <= MAX_SHARE)
    labels = series.metric
    if is_database_series(series):
        if _LAG.search(name) and _SECONDS.search(name):
            return DB_LAG
        for role, words in _DB_SHARES if share else ():
            if words.search(name):
                return role
        return name
    if share and labels.get("pod"):
        for role, words in _POD_SHARES:
            if words.search(name):
                return role
    elif share and labels.get("node"):
        for role, words in _NODE_SHARES:
            if words.search(name):
                return role
    if _CERT.search(name) and _SECONDS.search(name) and max(abs(v) for v in values) < EPOCH:
        return CERT_EXPIRY
    if ((_LATENCY.search(name) and _SECONDS.search(name) or _SECONDS_QUANTILE.search(name))
            and not name.endswith(COUNTER_SUFFIXES)):
        quantile = _quantile(name, labels.get("quantile", ""))
        if quantile:
            if _NETWORK.search(name) and labels.get("pod"):
                return f"pod:network_latency_seconds:p{quantile}_1m"
            if not labels.get("pod"):
                return f"service:latency_seconds:p{quantile}_1m"
    if share and _ERRORS.search(name) and max(values) <= 1:
        return ERRORS
    if (_REQUESTS.search(name) and _PER_SECOND.search(name) and not _NOT_DEMAND.search(name)
            and not name.endswith("_total")):
        return REQUESTS
    return name


def is_database_series(series: Series) -> bool:
    """Tell whether a series is a database instance's own: a recording rule of ours (`db:`),
    a `db_` series that is no client's (`db_client_*` is an application's pool), or a label
    only an instance's series carry. A client library's `redis_*` or `pg_*` series on an
    application is the application's, so those prefixes alone do not say it."""
    name = series.name
    return (name.startswith("db:") or (name.startswith("db_") and not name.startswith(
        "db_client")) or any(series.metric.get(k) for k in DB_LABELS))


def _quantile(name: str, label: str) -> str:
    """Return the percentile a latency series measures (`99`), or '' when it says none."""
    m = _QUANTILE.search(name)
    if m:
        return m.group(1)
    try:
        q = float(label)
    except ValueError:
        return ""
    return f"{round(q * 100):02d}" if 0.5 <= q < 1 else ""
