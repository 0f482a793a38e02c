"""A finding: one piece of checkable evidence pointing at a (place, fault) with a weight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Finding:
    """Evidence that `fault` is at (namespace, service); weight is a probability-like 0..1.

    `generic` marks symptoms (errors, latency) that any fault downstream could also cause;
    localisation discounts them when an anomalous dependency explains them better. `chronic`
    marks a state that began long before the incident: evidence of old trouble, not of what
    is wrong now.
    """

    namespace: str
    service: str
    fault: str
    weight: float
    evidence: str
    generic: bool = False
    onset: datetime | None = None
    source: str = ""  # kubernetes | metrics | logs | changes | topology | history
    chronic: bool = False

    @property
    def entity(self) -> tuple[str, str]:
        return (self.namespace, self.service)
