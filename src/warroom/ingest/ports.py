"""What ingestion tells the rest of warroom once signals are committed."""

from __future__ import annotations

from typing import Protocol

from warroom.ingest.models import IncidentRef


class IncidentListener(Protocol):
    """Told, after commit, which incidents a batch of signals opened, changed or resolved."""

    async def incidents_changed(self, incidents: list[IncidentRef]) -> None:
        """React to the change (start or signal a workflow); must not raise into ingestion."""
        ...
