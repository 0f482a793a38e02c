"""The scrape-time gauges read from the database, and the rendering of `/metrics`.

The database gauges are read once per scrape (a few aggregate queries under a short timeout)
and handed to a custom collector in a registry of their own, so they never sit stale in the
process-wide registry and a worker process, which has no scrape-time database session, does
not export numbers it did not read.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from warroom.observe.models import BACKLOG_STAGES, PRIORITIES, DatabaseGauges


class DatabaseCollector(Collector):
    """Export one reading of the database gauges; `None` says the database did not answer."""

    def __init__(self, gauges: DatabaseGauges | None) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges of this reading."""
        up = GaugeMetricFamily(
            "warroom_metrics_database_up",
            "1 when the database answered the scrape-time queries, 0 when it did not.",
            value=0 if self._gauges is None else 1,
        )
        yield up
        if self._gauges is None:
            return
        gauges = self._gauges
        open_incidents = GaugeMetricFamily(
            "warroom_incidents_open", "Open incidents, by priority.", labels=["priority"]
        )
        for priority in sorted({*PRIORITIES, *gauges.open_incidents}):
            open_incidents.add_metric([priority], gauges.open_incidents.get(priority, 0))
        yield open_incidents
        backlog = GaugeMetricFamily(
            "warroom_workflow_backlog",
            "Incident work not finished, by stage: queued (no decision yet), then the decision's "
            "active state (analyzing, ready = waiting for approval, approved, executing, "
            "verifying).",
            labels=["stage"],
        )
        for stage in BACKLOG_STAGES:
            backlog.add_metric([stage], gauges.backlog.get(stage, 0))
        yield backlog
        yield GaugeMetricFamily(
            "warroom_audit_chain_length", "Rows in the hash-chained audit trail (highest seq).",
            value=gauges.audit_chain_length,
        )


def render(gauges: DatabaseGauges | None) -> bytes:
    """Render this process's metrics and one reading of the database gauges as text."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(DatabaseCollector(gauges))
    return generate_latest(REGISTRY) + generate_latest(scrape)
