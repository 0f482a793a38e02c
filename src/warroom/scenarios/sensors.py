"""Replay sensors: each evidence dimension answered from a recorded scenario.

They implement the same `Sensor` port as the live adapters, so a replayed incident goes
through exactly the code a live one does, with only these swapped in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from warroom.scenarios.models import Scenario
from warroom.sensors.models import EvidenceData, SensorRequest, SensorResult, SensorRun
from warroom.sensors.ports import Sensor


class ReplaySensor:
    """One dimension of a scenario, served as a sensor would serve it."""

    def __init__(self, name: str, scenario: Scenario, what: str,
                 extract: Callable[[Scenario, SensorRequest], EvidenceData]) -> None:
        self.name = name
        self._scenario = scenario
        self._what = what
        self._extract = extract

    async def collect(self, request: SensorRequest) -> SensorResult:
        """Answer this dimension from the scenario, saying what was searched."""
        data = self._extract(self._scenario, request)
        items = (len(data.series) + len(data.objects) + len(data.logs) + len(data.topology)
                 + len(data.changes) + len(data.documents))
        query = f"scenario {self._scenario.id}: {self._what}"
        note = "" if items else f"searched {self._what} in scenario {self._scenario.id}, " \
            "found nothing"
        return SensorResult(
            run=SensorRun(sensor=self.name, status="ok" if items else "empty",
                          queries=[query], items=items, note=note),
            data=data)


def _objects(s: Scenario, _r: SensorRequest) -> EvidenceData:
    return EvidenceData(objects=[o for o in s.kubernetes.objects if o.get("kind") != "Event"])


def _events(s: Scenario, _r: SensorRequest) -> EvidenceData:
    return EvidenceData(objects=[o for o in s.kubernetes.objects if o.get("kind") == "Event"])


def _metrics(s: Scenario, r: SensorRequest) -> EvidenceData:
    # the recording is the window: keep all of it, but nothing from after `now`
    end = r.now.timestamp()
    series = []
    for item in s.prometheus.series:
        if not item.values:
            continue
        if item.values[-1][0] <= end and all(t <= end for t, _ in item.values):
            series.append(item)  # nothing from after `now`: the recording as it is
            continue
        values = [v for v in item.values if v[0] <= end]
        if values:
            series.append(item.model_copy(update={"values": values}))
    return EvidenceData(series=series)


def _logs(s: Scenario, _r: SensorRequest) -> EvidenceData:
    return EvidenceData(logs=list(s.logs))


def _topology(s: Scenario, _r: SensorRequest) -> EvidenceData:
    return EvidenceData(topology=list(s.topology.edges))


def _changes(s: Scenario, r: SensorRequest) -> EvidenceData:
    start = r.now - timedelta(seconds=max(r.lookback_seconds, 7 * 86400))
    return EvidenceData(changes=[c for c in s.changes if start <= c.time <= r.now])


def _documents(s: Scenario, _r: SensorRequest) -> EvidenceData:
    return EvidenceData(documents=list(s.documents))


def replay_sensors(scenario: Scenario) -> list[Sensor]:
    """Return one replay sensor per evidence dimension of the scenario."""
    return [
        ReplaySensor("kubernetes", scenario, "kubernetes objects", _objects),
        ReplaySensor("events", scenario, "kubernetes events", _events),
        ReplaySensor("metrics", scenario, "prometheus series", _metrics),
        ReplaySensor("logs", scenario, "container logs", _logs),
        ReplaySensor("topology", scenario, "service topology", _topology),
        ReplaySensor("changes", scenario, "change feed", _changes),
        ReplaySensor("documents", scenario, "documents", _documents),
    ]
