"""Kubernetes sensors: objects, events, pod logs and the change feed, read over the REST API.

They use kubernetes-asyncio's `ApiClient` for configuration, authentication and transport,
but read raw JSON (`_preload_content=False`), so the evidence holds objects exactly as the
API server returned them. Every run reports the exact API paths it asked.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from warroom.config import Settings
from warroom.kube.client import KubeApi, KubeUnavailable
from warroom.kube.objects import REVISION, describe_template_change
from warroom.sensors.models import (
    Change,
    EvidenceData,
    LogStream,
    SensorRequest,
    SensorResult,
    SensorRun,
)
from warroom.sensors.ports import Sensor


def _belongs(obj: dict[str, Any], services: list[str]) -> bool:
    if not services:
        return True
    meta = obj.get("metadata", {})
    labels = meta.get("labels") or {}
    name = meta.get("name", "")
    for service in services:
        if service in (labels.get("app"), labels.get("app.kubernetes.io/name"), name):
            return True
        if name.startswith(service + "-"):
            return True
    return False


def _namespaces(request: SensorRequest) -> list[str]:
    return sorted(set(request.namespaces)) or [""]


def _prefix(namespace: str) -> str:
    return f"/namespaces/{namespace}" if namespace else ""


class _Base:
    name = "kubernetes"

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    async def collect(self, request: SensorRequest) -> SensorResult:
        """Gather this sensor's evidence; failures become an error status, never a raise."""
        started = time.perf_counter()
        queries: list[str] = []
        try:
            async with self.api.session():
                data, note = await self._collect(request, queries)
        except KubeUnavailable as exc:
            return SensorResult(run=SensorRun(
                sensor=self.name, status="error", error=str(exc), queries=queries,
                latency_ms=(time.perf_counter() - started) * 1000))
        items = (len(data.objects) + len(data.logs) + len(data.changes))
        return SensorResult(run=SensorRun(
            sensor=self.name, status="ok" if items else "empty", queries=queries, items=items,
            latency_ms=(time.perf_counter() - started) * 1000, note=note), data=data)

    async def _collect(self, request: SensorRequest,
                       queries: list[str]) -> tuple[EvidenceData, str]:
        raise NotImplementedError

    async def _list(self, path: str, queries: list[str]) -> list[dict[str, Any]]:
        queries.append(f"GET {path}")
        return await self.api.list(path)


class KubernetesObjectsSensor(_Base):
    """Pods, workloads, ReplicaSets, services, HPAs, PVCs of the scope, and the nodes."""

    name = "kubernetes"

    async def _collect(self, request: SensorRequest,
                       queries: list[str]) -> tuple[EvidenceData, str]:
        paths = [f"{group}{_prefix(namespace)}/{plural}"
                 for namespace in _namespaces(request)
                 for group, plural in (("/api/v1", "pods"), ("/apis/apps/v1", "deployments"),
                                       ("/apis/apps/v1", "replicasets"),
                                       ("/apis/apps/v1", "statefulsets"),
                                       ("/api/v1", "services"),
                                       ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
                                       ("/api/v1", "persistentvolumeclaims"))]
        lists = await asyncio.gather(
            *(self._list(path, queries) for path in paths), return_exceptions=True
        )
        # report the first failure in the order listed, not whichever failed first
        failed = next((r for r in lists if isinstance(r, BaseException)), None)
        if failed is not None:
            raise failed
        objects = [
            o for found in lists if isinstance(found, list)
            for o in found if _belongs(o, request.services)
        ]
        objects.extend(await self._list("/api/v1/nodes", queries))
        scope = ", ".join(request.namespaces) or "all namespaces"
        note = f"searched {scope} for {', '.join(request.services) or 'every workload'}: " \
               f"{len(objects)} objects"
        return EvidenceData(objects=objects), note


class KubernetesEventsSensor(_Base):
    """Core v1 Events of the scope within the lookback window."""

    name = "events"

    async def _collect(self, request: SensorRequest,
                       queries: list[str]) -> tuple[EvidenceData, str]:
        since = request.now - timedelta(seconds=request.lookback_seconds)
        events = []
        for namespace in _namespaces(request):
            for event in await self._list(f"/api/v1{_prefix(namespace)}/events", queries):
                stamp = event.get("lastTimestamp") or event.get("eventTime") or \
                    event.get("metadata", {}).get("creationTimestamp")
                if stamp and _parse(stamp) < since:
                    continue
                involved = {"metadata": {"name": event.get("involvedObject", {}).get("name", ""),
                                         "labels": {}}}
                if request.services and not _belongs(involved, request.services):
                    continue
                events.append(event)
        return EvidenceData(objects=events), f"{len(events)} events since {since.isoformat()}"


class KubernetesLogsSensor(_Base):
    """Recent log lines of the scope's pods, and of the previous container when it crashed."""

    name = "logs"

    def __init__(self, api: KubeApi, *, tail_lines: int = 50, pods_per_service: int = 3) -> None:
        super().__init__(api)
        self.tail_lines = tail_lines
        self.pods_per_service = pods_per_service

    async def _collect(self, request: SensorRequest,
                       queries: list[str]) -> tuple[EvidenceData, str]:
        streams: list[LogStream] = []
        for namespace in _namespaces(request):
            pods = [p for p in await self._list(f"/api/v1{_prefix(namespace)}/pods", queries)
                    if _belongs(p, request.services)]
            pods.sort(key=_trouble, reverse=True)
            for pod in pods[: self.pods_per_service * max(1, len(request.services))]:
                streams.extend(await self._pod_logs(pod, queries))
        return EvidenceData(logs=streams), f"{len(streams)} log streams"

    async def _pod_logs(self, pod: dict[str, Any], queries: list[str]) -> list[LogStream]:
        meta = pod["metadata"]
        out = []
        for status in pod.get("status", {}).get("containerStatuses", []):
            container = status["name"]
            wanted = [False] + ([True] if status.get("lastState", {}).get("terminated") else [])
            for previous in wanted:
                path = (f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/log"
                        f"?container={container}&tailLines={self.tail_lines}"
                        + ("&previous=true" if previous else ""))
                queries.append(f"GET {path}")
                response = await self.api.request("GET", path)
                if not response.ok:
                    continue  # a container waiting to start has no log yet
                lines = [line for line in response.text.splitlines() if line]
                if lines:
                    out.append(LogStream(namespace=meta["namespace"], pod=meta["name"],
                                         container=container, previous=previous, lines=lines))
        return out


class KubernetesChangesSensor(_Base):
    """The change feed, derived from ReplicaSet revisions, restarts and HPA rescales."""

    name = "changes"

    async def _collect(self, request: SensorRequest,
                       queries: list[str]) -> tuple[EvidenceData, str]:
        since = request.now - timedelta(seconds=request.lookback_seconds)
        changes: list[Change] = []
        for namespace in _namespaces(request):
            sets = [rs for rs in await self._list(
                f"/apis/apps/v1{_prefix(namespace)}/replicasets", queries)
                if _belongs(rs, request.services)]
            changes.extend(deploy_changes(sets, since))
            for hpa in await self._list(
                    f"/apis/autoscaling/v2{_prefix(namespace)}/horizontalpodautoscalers", queries):
                if not _belongs(hpa, request.services):
                    continue
                stamp = hpa.get("status", {}).get("lastScaleTime")
                if stamp and _parse(stamp) >= since:
                    meta = hpa["metadata"]
                    changes.append(Change(
                        time=_parse(stamp), kind="scale",
                        target=f"{meta['namespace']}/horizontalpodautoscaler/{meta['name']}",
                        description=f"HPA rescaled to {hpa['status'].get('desiredReplicas')} "
                                    f"replicas (max {hpa['spec'].get('maxReplicas')})"))
        changes.sort(key=lambda c: c.time)
        return EvidenceData(changes=changes), f"{len(changes)} changes since {since.isoformat()}"


def deploy_changes(replicasets: list[dict[str, Any]], since: datetime) -> list[Change]:
    """Derive deploy changes from ReplicaSets: each revision against the one before it."""
    by_owner: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for rs in replicasets:
        meta = rs["metadata"]
        owner = next((o["name"] for o in meta.get("ownerReferences") or []
                      if o.get("kind") == "Deployment"), None)
        if owner and REVISION in (meta.get("annotations") or {}):
            by_owner.setdefault((meta["namespace"], owner), []).append(rs)
    changes = []
    for (namespace, owner), sets in by_owner.items():
        sets.sort(key=lambda r: int(r["metadata"]["annotations"][REVISION]))
        for before, after in zip([None, *sets], sets, strict=False):
            created = _parse(after["metadata"]["creationTimestamp"])
            if created < since or before is None:
                continue
            changes.append(Change(
                time=created, kind="deploy", target=f"{namespace}/deployment/{owner}",
                description=f"revision {after['metadata']['annotations'][REVISION]}: "
                            + describe_template_change(before, after)))
    return changes


def _trouble(pod: dict[str, Any]) -> tuple[int, int]:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    not_ready = sum(1 for s in statuses if not s.get("ready"))
    return not_ready, restarts


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def kubernetes_sensors(kubeconfig: str = "", *, api: KubeApi | None = None,
                       retries: int = 3) -> list[_Base]:
    """Return the four Kubernetes sensors sharing one API client."""
    shared = api or KubeApi(kubeconfig, retries=retries)
    return [KubernetesObjectsSensor(shared), KubernetesEventsSensor(shared),
            KubernetesLogsSensor(shared), KubernetesChangesSensor(shared)]


def default_sensors(settings: Settings) -> list[Sensor]:
    """Return the Kubernetes sensors when a cluster is configured (kubeconfig or in-cluster)."""
    configured = bool(settings.kubeconfig) or bool(settings.kubernetes_service_host) \
        or (Path.home() / ".kube" / "config").exists()
    if not configured:
        return []
    return list(kubernetes_sensors(settings.kubeconfig, retries=settings.kube_retries))
