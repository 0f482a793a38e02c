"""Ask the live cluster through the read-only sensors: a Prometheus series, an object's events,
a pod's log lines. Only GET requests; names are checked before they reach a URL.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from warroom.mcp.models import EventsResult, LogsResult, SeriesResult, SeriesView
from warroom.safety.sanitize import MAX_LOG_LINES, clean_text, clean_value, redact

if TYPE_CHECKING:
    from warroom.config import Settings
    from warroom.kube.client import KubeResponse
    from warroom.sensors.prometheus import PrometheusSensor

# RFC 1123 names as Kubernetes accepts them for namespaces, pods, containers and most objects
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,62}$")
MAX_SERIES = 200
MAX_QUERY = 2000


class Kube(Protocol):
    """The part of `KubeApi` the live tools use: GET a list, GET a body."""

    async def list(self, path: str) -> list[dict[str, Any]]:
        """GET a list of objects."""
        ...

    async def request(self, method: str, path: str) -> KubeResponse:
        """Send one call."""
        ...


def _bad_name(field: str, value: str) -> str | None:
    if not _NAME.match(value):
        return f"{field} {value!r} is not a valid Kubernetes name (lower-case RFC 1123)"
    return None


class LiveSensors:
    """The read-only views of a live cluster that the MCP server offers, when configured."""

    def __init__(self, *, prometheus: PrometheusSensor | None, kube: Kube | None,
                 lookback_seconds: int) -> None:
        self.prometheus = prometheus
        self.kube = kube
        self.lookback_seconds = lookback_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveSensors:
        """Build the Prometheus and Kubernetes adapters the settings point at."""
        # lazy: cold import cost (python -X importtime): warroom.sensors.service ~171 ms (pulls
        # opentelemetry), warroom.sensors.prometheus ~489 ms (pulls httpx, rich),
        # warroom.kube.client ~383 ms (pulls rich); kept off the module's import path
        from warroom.sensors.service import kubernetes_configured

        prometheus = None
        if settings.prometheus_url:
            from warroom.sensors.prometheus import PrometheusSensor

            prometheus = PrometheusSensor(settings.prometheus_url,
                                          request_timeout=settings.sensor_timeout_seconds)
        kube = None
        if kubernetes_configured(settings):
            from warroom.kube.client import KubeApi

            kube = KubeApi(settings.kubeconfig, timeout=settings.sensor_timeout_seconds,
                           retries=settings.kube_retries)
        return cls(prometheus=prometheus, kube=kube,
                   lookback_seconds=settings.evidence_lookback_seconds)

    async def query_series(self, query: str, *, lookback_seconds: int | None,
                           step_seconds: int) -> SeriesResult:
        """Run one PromQL range query over the lookback window ending now."""
        lookback = lookback_seconds or self.lookback_seconds
        params = {"query": query, "lookback_seconds": lookback, "step_seconds": step_seconds}
        if self.prometheus is None:
            return SeriesResult(tool="query_series", status="unavailable", parameters=params,
                                error="no Prometheus configured (set WARROOM_PROMETHEUS_URL)")
        if not query.strip() or len(query) > MAX_QUERY:
            return SeriesResult(tool="query_series", status="error", parameters=params,
                                error=f"query must be 1..{MAX_QUERY} characters of PromQL")
        series, error, recorded = await self.prometheus.query_range(
            query, end=datetime.now(UTC), lookback_seconds=lookback, step_seconds=step_seconds)
        kept = [SeriesView(metric={k: clean_text(redact(v), 500) for k, v in s.metric.items()},
                           values=s.values) for s in series[:MAX_SERIES]]
        if error:
            status, note = "error", ""
        else:
            status = "ok" if kept else "empty"
            note = "" if kept else f"searched {query} over the last {lookback}s, found no series"
        if len(series) > MAX_SERIES:
            note = f"{len(series)} series matched; the first {MAX_SERIES} are shown"
        return SeriesResult(tool="query_series", status=status, parameters=params,
                            queries=[redact(recorded)],
                            error=clean_text(error, 1000) if error else None, note=note,
                            series=kept)

    async def object_events(self, namespace: str, name: str, kind: str | None,
                            limit: int) -> EventsResult:
        """List the core v1 Events whose involved object is `namespace/kind/name`."""
        params = {"namespace": namespace, "name": name, "kind": kind, "limit": limit}
        problem = _bad_name("namespace", namespace) or _bad_name("name", name) or (
            f"kind {kind!r} is not a Kubernetes kind" if kind and not _KIND.match(kind) else None)
        if problem:
            return EventsResult(tool="object_events", status="error", parameters=params,
                                error=problem)
        if self.kube is None:
            return EventsResult(tool="object_events", status="unavailable", parameters=params,
                                error="no Kubernetes API configured (set WARROOM_KUBECONFIG or "
                                      "run in a pod)")
        selector = f"involvedObject.name={name}" + (f",involvedObject.kind={kind}" if kind
                                                    else "")
        path = f"/api/v1/namespaces/{namespace}/events?fieldSelector={quote(selector)}"
        # lazy: cold import cost (python -X importtime): warroom.kube.client ~212 ms (pulls rich);
        # kept off the module's import path
        from warroom.kube.client import KubeUnavailable

        try:
            events = await self.kube.list(path)
        except KubeUnavailable as exc:
            return EventsResult(tool="object_events", status="error", parameters=params,
                                queries=[f"GET {path}"], error=clean_text(str(exc), 1000))
        events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""),
                    reverse=True)
        kept = [clean_value(e) for e in events[:limit]]
        return EventsResult(
            tool="object_events", status="ok" if kept else "empty", parameters=params,
            queries=[f"GET {path}"], events=kept,
            note="" if kept else f"searched events of {namespace}/{kind or '*'}/{name}, "
                                 "found none")

    async def pod_logs(self, namespace: str, pod: str, container: str | None, tail_lines: int,
                       previous: bool) -> LogsResult:
        """Read the newest log lines of one pod's container (or of its crashed predecessor)."""
        params = {"namespace": namespace, "pod": pod, "container": container,
                  "tail_lines": tail_lines, "previous": previous}
        problem = _bad_name("namespace", namespace) or _bad_name("pod", pod) or (
            _bad_name("container", container) if container else None)
        if problem:
            return LogsResult(tool="pod_logs", status="error", parameters=params, error=problem)
        if self.kube is None:
            return LogsResult(tool="pod_logs", status="unavailable", parameters=params,
                              error="no Kubernetes API configured (set WARROOM_KUBECONFIG or "
                                    "run in a pod)")
        tail = max(1, min(tail_lines, MAX_LOG_LINES))
        path = (f"/api/v1/namespaces/{namespace}/pods/{pod}/log?tailLines={tail}"
                + (f"&container={container}" if container else "")
                + ("&previous=true" if previous else ""))
        # lazy: cold import cost (python -X importtime): warroom.kube.client ~212 ms (pulls rich);
        # kept off the module's import path
        from warroom.kube.client import KubeUnavailable

        base = LogsResult(tool="pod_logs", status="ok", parameters=params,
                          queries=[f"GET {path}"], namespace=namespace, pod=pod,
                          container=container or "", previous=previous)
        try:
            response = await self.kube.request("GET", path)
        except KubeUnavailable as exc:
            return base.model_copy(update={"status": "error",
                                           "error": clean_text(str(exc), 1000)})
        if response.status == 404:
            return base.model_copy(update={"status": "not_found",
                                           "error": clean_text(response.message, 1000)})
        if not 200 <= response.status < 300:
            return base.model_copy(update={
                "status": "error",
                "error": clean_text(f"HTTP {response.status}: {response.message}", 1000)})
        lines = [clean_text(line, 2000) for line in response.text.splitlines() if line][-tail:]
        return base.model_copy(update={
            "status": "ok" if lines else "empty", "lines": lines,
            "note": "" if lines else f"read the last {tail} lines of {namespace}/{pod}, "
                                     "the log is empty"})
