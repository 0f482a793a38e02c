"""Take an evidence snapshot: every sensor concurrently, each bounded by its own timeout.

A sensor that hangs, raises or answers garbage never delays or breaks the snapshot: its run is
recorded with status `timeout` or `error` and why, and the other sensors' evidence is kept.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from warroom.observe.tracing import span
from warroom.sensors.mesh import calls
from warroom.sensors.models import EvidenceSnapshot, SensorRequest, SensorResult, SensorRun
from warroom.sensors.ports import Sensor

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.config import Settings

R = TypeVar("R")


def _reap(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so an abandoned failure is not reported as lost


async def bounded(awaitable: Awaitable[R], timeout: float) -> R:
    """Await with a deadline that holds even if the awaited code ignores cancellation."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()  # asked to stop; not waited for, so a stubborn callee cannot hold us
        task.add_done_callback(_reap)
        raise TimeoutError
    return task.result()


async def run_sensor(sensor: Sensor, request: SensorRequest, timeout: float) -> SensorResult:
    """Run one sensor under its timeout; failures become a run record, never an exception.

    A sensor may carry its own `timeout_seconds` (a slow log store); it never exceeds `timeout`.
    """
    name = str(getattr(sensor, "name", type(sensor).__name__))
    own = getattr(sensor, "timeout_seconds", None)
    if isinstance(own, int | float) and 0 < own < timeout:
        timeout = float(own)
    started = time.perf_counter()

    def elapsed() -> float:
        return round((time.perf_counter() - started) * 1000, 3)

    with span("warroom.sensor", sensor=name) as current:
        result = await _collect(sensor, request, timeout, name, elapsed)
        current.set_attribute("status", result.run.status)
        return result


async def _collect(sensor: Sensor, request: SensorRequest, timeout: float, name: str,
                   elapsed: Callable[[], float]) -> SensorResult:
    try:
        result = await bounded(sensor.collect(request), timeout)
    except TimeoutError:
        return SensorResult(run=SensorRun(
            sensor=name, status="timeout", latency_ms=elapsed(),
            error=f"no answer within {timeout:g}s"))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a broken adapter must not break the snapshot
        return SensorResult(run=SensorRun(
            sensor=name, status="error", latency_ms=elapsed(),
            error=f"{type(exc).__name__}: {exc}"[:1000]))
    if not isinstance(result, SensorResult):
        return SensorResult(run=SensorRun(
            sensor=name, status="error", latency_ms=elapsed(),
            error=f"sensor returned {type(result).__name__}, not a SensorResult"))
    run = result.run.model_copy(update={"sensor": result.run.sensor or name,
                                        "latency_ms": elapsed()})
    return SensorResult(run=run, data=result.data)


def select_sensors(sensors: list[Sensor], request: SensorRequest) -> list[Sensor]:
    """Pick the sensors that apply to the incident: one per name, asking each `applies()`.

    A sensor may define `applies(request) -> bool` (say, a history sensor with nothing to search
    by); one that does not is always asked. A later sensor with the same name replaces an
    earlier one, so callers can override a default adapter.
    """
    by_name: dict[str, Sensor] = {}
    for sensor in sensors:
        by_name[str(getattr(sensor, "name", type(sensor).__name__))] = sensor
    chosen = []
    for sensor in by_name.values():
        applies = getattr(sensor, "applies", None)
        try:
            if applies is not None and not applies(request):
                continue
        except Exception:  # a broken predicate is not a reason to go without the sensor
            pass
        chosen.append(sensor)
    return chosen


async def take_snapshot(request: SensorRequest, sensors: list[Sensor], *,
                        timeout: float) -> EvidenceSnapshot:
    """Ask every sensor concurrently and merge what answered into one snapshot."""
    with span("warroom.sense", incident_id=request.incident_id, sensors=len(sensors)):
        results = await asyncio.gather(*(run_sensor(s, request, timeout) for s in sensors))
    snapshot = EvidenceSnapshot(incident_id=request.incident_id, now=request.now,
                                alerts=list(request.alerts))
    for result in results:
        snapshot.sensors.append(result.run)
        if result.run.status in ("ok", "empty"):
            snapshot.merge(result.data)
    # the calls a service mesh or a service graph counted are call graph edges (mesh.py)
    known = set(snapshot.topology)
    snapshot.topology.extend(edge for edge in calls(snapshot.series) if edge not in known)
    return snapshot


IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def kubernetes_configured(settings: Settings) -> bool:
    """Tell whether a Kubernetes API is configured: a kubeconfig, or a pod's service account."""
    if settings.kubeconfig:
        return True
    return IN_CLUSTER_TOKEN.exists() or (Path.home() / ".kube" / "config").exists()


def default_sensors(settings: Settings,
                    sessions: async_sessionmaker[AsyncSession] | None = None) -> list[Sensor]:
    """Build the live sensors the settings point at (Prometheus, Kubernetes, history)."""
    sensors: list[Sensor] = []
    if settings.prometheus_url:
        # lazy: cold import cost (python -X importtime): warroom.sensors.prometheus ~250 ms (pulls
        # httpx, rich), warroom.sensors.history ~817 ms (pulls sqlalchemy); kept off the module's
        # import path
        from warroom.sensors.prometheus import PrometheusSensor

        sensors.append(PrometheusSensor(settings.prometheus_url))
    try:  # the Kubernetes adapters (objects, events, logs, changes) load their config lazily
        k8s = importlib.import_module("warroom.sensors.kubernetes")
    except ModuleNotFoundError:
        k8s = None
    factory = getattr(k8s, "kubernetes_sensors", None)
    if factory is not None and kubernetes_configured(settings):
        sensors.extend(factory(settings.kubeconfig))
    if sessions is not None:
        from warroom.sensors.history import HistorySensor

        sensors.append(HistorySensor(sessions))
    return sensors
