from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from warroom.sensors.models import EvidenceData, SensorRequest, SensorResult, SensorRun, Series
from warroom.sensors.service import take_snapshot

NOW = datetime(2026, 4, 18, 10, 46, tzinfo=UTC)


class Fixed:
    def __init__(self, name: str, series: int = 1) -> None:
        self.name = name
        self.n = series

    async def collect(self, request: SensorRequest) -> SensorResult:
        data = EvidenceData(series=[Series(metric={"__name__": f"{self.name}_{i}"}, values=[])
                                    for i in range(self.n)])
        return SensorResult(run=SensorRun(sensor=self.name, status="ok", items=self.n),
                            data=data)


class Hangs:
    name = "hangs"

    def __init__(self) -> None:
        self.cancelled = False

    async def collect(self, request: SensorRequest) -> SensorResult:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


class Raises:
    name = "raises"

    async def collect(self, request: SensorRequest) -> SensorResult:
        raise ConnectionError("connection refused: prometheus:9090")


class Garbage:
    name = "garbage"

    async def collect(self, request: SensorRequest) -> SensorResult:
        return {"not": "a result"}  # type: ignore[return-value]


async def test_hanging_sensor_is_cut_at_its_timeout_and_the_rest_is_kept() -> None:
    hang = Hangs()
    request = SensorRequest(now=NOW, incident_id="i-1")
    snap = await asyncio.wait_for(
        take_snapshot(request, [Fixed("metrics", 2), hang, Fixed("logs")], timeout=0.05),
        timeout=5)
    runs = {r.sensor: r for r in snap.sensors}
    assert runs["hangs"].status == "timeout"
    assert "0.05" in (runs["hangs"].error or "")
    assert hang.cancelled
    assert snap.sensors_attempted == ["metrics", "hangs", "logs"]
    assert snap.sensors_succeeded == ["metrics", "logs"]
    assert len(snap.series) == 3
    assert snap.incident_id == "i-1" and snap.now == NOW


async def test_failing_sensors_are_recorded_with_why() -> None:
    snap = await take_snapshot(SensorRequest(now=NOW), [Raises(), Garbage()], timeout=1)
    runs = {r.sensor: r for r in snap.sensors}
    assert runs["raises"].status == "error"
    assert "ConnectionError" in (runs["raises"].error or "")
    assert "prometheus:9090" in (runs["raises"].error or "")
    assert runs["garbage"].status == "error" and "SensorResult" in (runs["garbage"].error or "")
    assert snap.sensors_succeeded == []


def test_selection_keeps_one_per_name_and_asks_applies() -> None:
    from warroom.sensors.service import select_sensors

    class Picky(Fixed):
        def applies(self, request: SensorRequest) -> bool:
            return bool(request.services)

    override = Fixed("metrics", 5)
    chosen = select_sensors([Fixed("metrics"), Picky("history"), override],
                            SensorRequest(now=NOW))
    assert chosen == [override]
    with_service = select_sensors([Picky("history")], SensorRequest(now=NOW, services=["a"]))
    assert [s.name for s in with_service] == ["history"]


class Stubborn:
    """Swallows cancellation: the timeout must hold anyway."""

    name = "stubborn"

    async def collect(self, request: SensorRequest) -> SensorResult:
        for _ in range(40):  # two seconds, deaf to cancellation
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue
        return SensorResult(run=SensorRun(sensor=self.name, status="ok"))


async def test_sensor_ignoring_cancellation_still_misses_its_timeout() -> None:
    snap = await asyncio.wait_for(
        take_snapshot(SensorRequest(now=NOW), [Stubborn(), Fixed("logs")], timeout=0.05), 1.5)
    assert [r.status for r in snap.sensors] == ["timeout", "ok"]


def test_default_sensors_follow_the_settings(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from warroom.config import Settings
    from warroom.sensors import service

    monkeypatch.setattr(service, "IN_CLUSTER_TOKEN", tmp_path / "no-token")
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    bare = Settings(home=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert service.default_sensors(bare) == []  # nothing configured, nothing to ask
    kube = tmp_path / "kubeconfig"
    full = bare.model_copy(update={"prometheus_url": "http://prometheus:9090",
                                   "kubeconfig": str(kube)})
    names = [s.name for s in service.default_sensors(full, async_sessionmaker())]
    assert names[0] == "metrics" and names[-1] == "history"
    assert {"kubernetes", "events", "logs", "changes"} <= set(names)


async def test_a_sensor_may_carry_a_shorter_timeout() -> None:
    quick = Hangs()
    quick.timeout_seconds = 0.01  # type: ignore[attr-defined]
    snap = await take_snapshot(SensorRequest(now=NOW), [quick], timeout=0.5)
    assert snap.sensors[0].status == "timeout" and "0.01" in (snap.sensors[0].error or "")


class Mesh:
    name = "metrics"

    async def collect(self, request: SensorRequest) -> SensorResult:
        labels = {"__name__": "istio_requests_total", "source_workload": "frontend",
                  "destination_workload": "checkout", "response_code": "200"}
        data = EvidenceData(series=[Series(metric=labels, values=[])],
                            topology=[("checkout", "payments")])
        return SensorResult(run=SensorRun(sensor=self.name, status="ok", items=1), data=data)


async def test_the_calls_a_mesh_counted_join_the_topology() -> None:
    snap = await take_snapshot(SensorRequest(now=NOW), [Mesh()], timeout=1)
    assert snap.topology == [("checkout", "payments"), ("frontend", "checkout")]
