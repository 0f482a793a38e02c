from __future__ import annotations

import json
from pathlib import Path

from warroom.scenarios.models import Scenario
from warroom.scenarios.sensors import replay_sensors
from warroom.sensors.models import SensorRequest
from warroom.sensors.service import take_snapshot


async def test_replay_answers_every_dimension(scenarios_dir: Path) -> None:
    scenario = Scenario.model_validate(
        json.loads((scenarios_dir / "synth-node-failure-1.json").read_text()))
    sensors = replay_sensors(scenario)
    snap = await take_snapshot(SensorRequest(now=scenario.now), sensors, timeout=1)
    assert set(snap.sensors_attempted) == {"kubernetes", "events", "metrics", "logs",
                                           "topology", "changes", "documents"}
    non_events = [o for o in scenario.kubernetes.objects if o["kind"] != "Event"]
    assert len(snap.objects) == len(scenario.kubernetes.objects)
    assert sum(1 for o in snap.objects if o["kind"] != "Event") == len(non_events)
    assert len(snap.series) == len(scenario.prometheus.series)
    assert snap.topology == scenario.topology.edges
    runs = {r.sensor: r for r in snap.sensors}
    assert runs["kubernetes"].queries == [f"scenario {scenario.id}: kubernetes objects"]


async def test_nothing_after_now_and_empty_dimensions_say_so(scenarios_dir: Path) -> None:
    scenario = Scenario.model_validate(
        json.loads((scenarios_dir / "synth-node-failure-1.json").read_text()))
    scenario.documents = []
    earlier = scenario.now.replace(minute=0)
    snap = await take_snapshot(SensorRequest(now=earlier), replay_sensors(scenario), timeout=1)
    assert all(t <= earlier.timestamp() for s in snap.series for t, _ in s.values)
    docs = next(r for r in snap.sensors if r.sensor == "documents")
    assert docs.status == "empty" and "found nothing" in docs.note
