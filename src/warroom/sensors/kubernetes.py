"""Kubernetes sensors: objects, events, pod logs and the change feed, read over the REST API.

They use kubernetes-asyncio's `ApiClient` for configuration, authentication and transport,
but read raw JSON (`_preload_content=False`), so the evidence holds objects exactly as the
API server returned them. Every run reports the exact API paths it asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from warroom.config import Settings
from warroom.sensors.models import (
    Change,
    EvidenceData,
    LogStream,
    SensorRequest,
    SensorResult,
    SensorRun,
)
from warroom.sensors.ports import Sensor

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


class KubeUnavailable(RuntimeError):
    """The API server could not be reached or configured."""


@dataclass
class KubeResponse:
    status: int
    data: Any  # parsed JSON, or text for logs
    text: str

    @property
    def ok(self) -> bool:
        """Tell whether the call succeeded (2xx)."""
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        """Return the API's error message (a Status' `message`), or the body."""
        if isinstance(self.data, dict) and self.data.get("message"):
            return str(self.data["message"])
        return self.text.strip()[:500] or f"HTTP {self.status}"


class KubeApi:
    """Raw JSON access to the API server through kubernetes-asyncio's `ApiClient`.

    The configuration is loaded once, on first use, from `kubeconfig` (a path), or in-cluster
    configuration when running in a pod, or `~/.kube/config`. HTTP sessions live only as
    long as a `session()` block (one per sensor run or execution), or one request outside
    any, so nothing is left open between workflow steps.
    """

    def __init__(self, kubeconfig: str = "", *, timeout: float = 10.0) -> None:
        self.kubeconfig = kubeconfig
        self.timeout = timeout
        self._configuration: Any = None
        self._client: Any = None
        self._users = 0
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[KubeApi]:
        """Share one HTTP session across the requests of a block (nesting is fine)."""
        async with self._lock:
            if self._users == 0:
                from kubernetes_asyncio import client

                self._client = client.ApiClient(configuration=await self.configuration())
            self._users += 1
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0 and self._client is not None:
                live, self._client = self._client, None
                await live.close()

    async def configuration(self) -> Any:
        """Return the client configuration, loading it on first use."""
        if self._configuration is None:
            from kubernetes_asyncio import client, config

            configuration = client.Configuration()
            try:
                if self.kubeconfig:
                    await config.load_kube_config(config_file=self.kubeconfig,
                                                  client_configuration=configuration)
                else:
                    try:
                        config.load_incluster_config(client_configuration=configuration)
                    except config.ConfigException:
                        await config.load_kube_config(client_configuration=configuration)
            except (config.ConfigException, OSError, TypeError, ValueError) as exc:
                where = self.kubeconfig or "in-cluster or ~/.kube/config"
                raise KubeUnavailable(f"cannot load Kubernetes config ({where}): {exc}") from exc
            self._configuration = configuration
        return self._configuration

    async def request(self, method: str, path: str, *, body: Any = None,
                      content_type: str = "application/json",
                      query: list[tuple[str, str]] | None = None) -> KubeResponse:
        """Send one call (the path may carry a query string) and return status and JSON."""
        import aiohttp

        if self._client is None:
            async with self.session():
                return await self.request(method, path, body=body, content_type=content_type,
                                          query=query)
        api = self._client
        parts = urlsplit(path)
        params = parse_qsl(parts.query) + list(query or [])
        try:
            raw = await api.call_api(
                parts.path, method, query_params=params or None,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body, auth_settings=["BearerToken"], _preload_content=False,
                _request_timeout=self.timeout)
            try:
                text = await raw.text()
                code = raw.status
            finally:
                raw.release()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise KubeUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        try:
            data: Any = json.loads(text) if text else None
        except ValueError:
            data = text
        return KubeResponse(status=code, data=data, text=text)

    async def list(self, path: str) -> list[dict[str, Any]]:
        """GET a list and return its items with kind and apiVersion filled in."""
        response = await self.request("GET", path)
        if not response.ok:
            raise KubeUnavailable(f"GET {path}: {response.status} {response.message}")
        kind = str(response.data.get("kind", "")).removesuffix("List")
        version = response.data.get("apiVersion", "v1")
        return [{"apiVersion": version, "kind": kind, **item}
                for item in response.data.get("items", [])]

    async def close(self) -> None:
        """Close an HTTP session left open (none is, outside `session()` blocks)."""
        if self._client is not None:
            await self._client.close()
            self._client = None
            self._users = 0


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


def describe_template_change(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Say what changed between two ReplicaSets' pod templates."""
    old = before["spec"]["template"]
    new = after["spec"]["template"]
    notes = []
    old_c = {c["name"]: c for c in old.get("spec", {}).get("containers", [])}
    for container in new.get("spec", {}).get("containers", []):
        prior = old_c.get(container["name"], {})
        if prior.get("image") != container.get("image"):
            notes.append(f"image {prior.get('image')} -> {container.get('image')}")
        if prior.get("resources") != container.get("resources"):
            notes.append(f"resources of {container['name']} -> {container.get('resources')}")
        if prior.get("env") != container.get("env"):
            notes.append(f"env of {container['name']} changed")
        for probe in ("livenessProbe", "readinessProbe"):
            if prior.get(probe) != container.get(probe):
                notes.append(f"{probe} of {container['name']} changed")
    old_ann = (old.get("metadata") or {}).get("annotations") or {}
    new_ann = (new.get("metadata") or {}).get("annotations") or {}
    if old_ann.get(RESTARTED_AT) != new_ann.get(RESTARTED_AT) and new_ann.get(RESTARTED_AT):
        notes.append(f"rollout restart at {new_ann[RESTARTED_AT]}")
    if (old.get("spec") or {}).get("nodeSelector") != (new.get("spec") or {}).get("nodeSelector"):
        notes.append(f"nodeSelector -> {(new.get('spec') or {}).get('nodeSelector')}")
    return "; ".join(notes) or "pod template changed"


def _trouble(pod: dict[str, Any]) -> tuple[int, int]:
    statuses = pod.get("status", {}).get("containerStatuses", [])
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    not_ready = sum(1 for s in statuses if not s.get("ready"))
    return not_ready, restarts


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def kubernetes_sensors(kubeconfig: str = "", *, api: KubeApi | None = None) -> list[_Base]:
    """Return the four Kubernetes sensors sharing one API client."""
    shared = api or KubeApi(kubeconfig)
    return [KubernetesObjectsSensor(shared), KubernetesEventsSensor(shared),
            KubernetesLogsSensor(shared), KubernetesChangesSensor(shared)]


def default_sensors(settings: Settings) -> list[Sensor]:
    """Return the Kubernetes sensors when a cluster is configured (kubeconfig or in-cluster)."""
    import os

    configured = bool(settings.kubeconfig) or bool(os.environ.get("KUBERNETES_SERVICE_HOST")) \
        or (Path.home() / ".kube" / "config").exists()
    if not configured:
        return []
    return list(kubernetes_sensors(settings.kubeconfig))
