"""Series an exporter named otherwise play the canonical roles the fingerprint rules read."""

from __future__ import annotations

from warroom.agents.diagnostician.index import finite_samples
from warroom.agents.diagnostician.roles import (
    CERT_EXPIRY,
    CPU,
    DB_CONNECTIONS,
    DB_CPU,
    DB_LAG,
    DB_STORAGE,
    ERRORS,
    MEMORY,
    NODE_FILESYSTEM,
    REQUESTS,
    THROTTLED,
    role_of,
)

from .diag_builders import flat, series, stepped
from .test_metrics import _findings


def _role(name: str, values: list[float], **labels: str) -> str:
    s = series(name, values, **labels)
    return role_of(s, finite_samples(s))


def test_a_pods_shares_of_its_limits_are_read_by_their_words() -> None:
    pod = {"namespace": "shop", "pod": "cart-7f9dd8b6c4-aaaaa"}
    assert _role("container_cpu_utilisation_ratio", flat(0.4), **pod) == CPU
    assert _role("container_cpu_cfs_throttled_ratio", flat(0.1), **pod) == THROTTLED
    assert _role("container_memory_working_set_usage", flat(0.6), **pod) == MEMORY
    # per cent, bytes or cores are another unit: the series keeps its own name
    assert _role("container_cpu_utilisation_percent", flat(40), **pod) == \
        "container_cpu_utilisation_percent"
    assert _role("container_memory_usage", flat(3e8), **pod) == "container_memory_usage"
    assert _role("container_cpu_usage_seconds_total", flat(5), **pod) == \
        "container_cpu_usage_seconds_total"


def test_nodes_services_and_recording_rules() -> None:
    assert _role("node_filesystem_usage_ratio", flat(0.5), node="worker-1") == NODE_FILESYSTEM
    assert _role("http_server_requests_error_ratio", flat(0.01), service="cart") == ERRORS
    assert _role("http_server_requests_per_second", flat(30), service="cart") == REQUESTS
    assert _role("http_server_requests_total", flat(30), service="cart") == \
        "http_server_requests_total"
    assert _role("http_server_request_duration_seconds_p99", flat(0.2), service="cart") == \
        "service:latency_seconds:p99_1m"
    assert _role("http_server_request_duration_seconds", flat(0.2), service="cart",
                 quantile="0.95") == "service:latency_seconds:p95_1m"
    # a histogram's quantile of a time in seconds is a latency whatever it times: Micrometer's
    # requests, a service graph's server side
    assert _role("http_server_requests_seconds_p99", flat(0.2), service="cart") == \
        "service:latency_seconds:p99_1m"
    assert _role("traces_service_graph_request_server_seconds_p95", flat(0.2),
                 service="cart") == "service:latency_seconds:p95_1m"
    assert _role("process_cpu_seconds_total", flat(3.0), service="cart") == \
        "process_cpu_seconds_total"
    # milliseconds are not the role's unit
    assert _role("http_server_request_duration_ms_p99", flat(200), service="cart") == \
        "http_server_request_duration_ms_p99"
    assert _role("pod:cpu_usage:ratio", flat(0.4), pod="cart-1") == CPU
    assert _role("db:cpu_usage:ratio", flat(0.4), pod="db-0") == "db:cpu_usage:ratio"


def test_a_database_instance_and_a_certificate_are_read_by_their_words() -> None:
    db = {"service": "orders-prod", "dbinstance_identifier": "orders-prod"}
    assert _role("rds_database_connections_utilisation", flat(0.5), **db) == DB_CONNECTIONS
    assert _role("db_storage_usage_ratio", flat(0.5), service="orders-db") == DB_STORAGE
    assert _role("db_replication_lag_seconds", flat(2), service="orders-db") == DB_LAG
    # an application's own database-client pool is the application's
    assert _role("db_client_connections_usage", flat(0.5), service="cart") == \
        "db_client_connections_usage"
    # a database's CPU is the database's, never a pod's
    assert _role("db_cpu_usage_ratio", flat(0.5), pod="orders-db-0") == DB_CPU
    assert _role("probe_ssl_expiry_seconds", flat(3600), service="auth") == CERT_EXPIRY
    # the expiry's own date is another fact than the seconds left
    assert _role("probe_ssl_earliest_cert_expiry_seconds", flat(1.8e9), service="auth") == \
        "probe_ssl_earliest_cert_expiry_seconds"


def test_a_raw_cpu_share_at_its_limit_is_the_same_fingerprint() -> None:
    assert _findings("container_cpu_utilisation_ratio", stepped(0.3, 0.99)) == \
        _findings("pod:cpu_usage:ratio", stepped(0.3, 0.99)) == ["cart:cpu_saturation"]
    ramp = [0.4 + 0.57 * i / 39 for i in range(40)]
    assert "cart:memory_leak" in _findings("container_memory_working_set_usage", ramp)
