"""The live runtime's clock mapping and the Prometheus emulation's staleness."""

from __future__ import annotations

from datetime import UTC, datetime

from warroom.sandbox.metrics import SeriesStore
from warroom.sandbox.runtime import WallClock, kubeconfig
from warroom.sandbox.server import restamp


def test_wall_clock_backfills_history_and_compresses_live_ticks() -> None:
    clock = WallClock(sim_start=10_000.0, wall_start=50_000.0, speed=30.0)
    assert clock.to_wall(9_000.0) == 49_000.0  # the warm-up maps one to one
    clock.tick(10_015.0, 50_000.5)
    clock.tick(10_030.0, 50_001.2)  # a late tick keeps its real instant
    assert clock.to_wall(10_030.0) == 50_001.2
    assert clock.to_wall(10_060.0) == 50_001.2 + 1.0
    stamp = datetime.fromtimestamp(10_030.0, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert clock.stamp(stamp) == datetime.fromtimestamp(50_001.2, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    assert clock.stamp("0001-01-01T00:00:00Z") == "0001-01-01T00:00:00Z"


def test_restamp_rewrites_times_in_objects_and_log_lines() -> None:
    def plus_hour(text: str) -> str:
        return text.replace("T09:", "T10:")

    obj = {"metadata": {"creationTimestamp": "2026-05-04T09:00:00Z", "name": "T09:x"},
           "items": [{"lastTimestamp": "2026-05-04T09:15:00Z"}]}
    assert restamp(obj, plus_hour) == {
        "metadata": {"creationTimestamp": "2026-05-04T10:00:00Z", "name": "T09:x"},
        "items": [{"lastTimestamp": "2026-05-04T10:15:00Z"}]}
    assert restamp("2026-05-04T09:01:02Z ERROR boom", plus_hour) == \
        "2026-05-04T10:01:02Z ERROR boom"


def test_a_deleted_pods_series_goes_stale() -> None:
    series = SeriesStore()
    for when in (0.0, 15.0, 30.0):
        series.record(when, "pod:cpu_usage:ratio", {"pod": "old"}, 0.9)
        series.record(when, "pod:cpu_usage:ratio", {"pod": "kept"}, 0.2)
    series.record(45.0, "pod:cpu_usage:ratio", {"pod": "kept"}, 0.2)  # "old" was deleted
    result = {r["metric"]["pod"]: r["values"] for r in
              series.query_range("pod:cpu_usage:ratio", 0, 60, 15)}
    assert [v[0] for v in result["kept"]] == [0, 15, 30, 45, 60]
    assert [v[0] for v in result["old"]] == [0, 15, 30]  # no 5-minute tail after deletion
    assert [r["metric"]["pod"] for r in series.query("pod:cpu_usage:ratio", 45)] == ["kept"]
    assert 'pod="old"' not in series.exposition(45)


def test_external_time_applies_to_queries() -> None:
    series = SeriesStore()
    series.record(100.0, "up", {"job": "x"}, 1)
    series.to_external = lambda when: when + 1000
    [item] = series.query_range('up{job="x"}', 1090, 1110, 10)
    assert item["values"] == [[1100, "1.0"], [1110, "1.0"]]


def test_kubeconfig_points_at_the_sandbox() -> None:
    config = kubeconfig("http://127.0.0.1:1234")
    assert config["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:1234"
    assert config["current-context"] == "warroom-sandbox"
