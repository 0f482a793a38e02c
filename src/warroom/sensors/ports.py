"""The sensor port: one dimension of evidence, asked concurrently with the others."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from warroom.sensors.models import SensorRequest, SensorResult


@runtime_checkable
class Sensor(Protocol):
    """A source of evidence. It never raises for a missing answer: it reports status and error."""

    name: str

    async def collect(self, request: SensorRequest) -> SensorResult:
        """Gather this sensor's evidence for the request."""
        ...
