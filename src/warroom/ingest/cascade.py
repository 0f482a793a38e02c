"""The service dependency graph ingestion groups cascades by (caller -> callee, bare names).

Two services are connected when they depend on a common service (one may be the other),
directly or through others: a database and every service that reaches it through calls, or two
callers of the same database. The root candidate of two connected services is the deepest
service both depend on: the database, whether or not it alerts itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from warroom.config import Settings


class ServiceGraph:
    """Reachability over caller -> callee edges, computed once."""

    def __init__(self, edges: Iterable[tuple[str, str]]) -> None:
        callees: dict[str, set[str]] = {}
        for caller, callee in edges:
            if caller and callee and caller != callee:
                callees.setdefault(caller, set()).add(callee)
                callees.setdefault(callee, set())
        self._below: dict[str, frozenset[str]] = {
            name: frozenset(self._walk(name, callees)) for name in callees
        }
        self._down = {name: self._below[name] | {name} for name in callees}
        up: dict[str, set[str]] = {name: {name} for name in callees}
        for name, below in self._below.items():
            for other in below:
                up[other].add(name)
        # everything that reaches something `name` reaches (itself included)
        self._connected = {
            name: frozenset().union(*(up[d] for d in self._down[name])) for name in callees
        }

    @staticmethod
    def _walk(start: str, callees: dict[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(callees.get(start, ()))
        while stack:
            name = stack.pop()
            if name not in seen and name != start:
                seen.add(name)
                stack.extend(callees.get(name, ()))
        return seen

    def __bool__(self) -> bool:
        return bool(self._connected)

    def connected(self, service: str) -> frozenset[str]:
        """Return the services connected to `service` (itself included), none if unknown."""
        return self._connected.get(service, frozenset())

    def deeper(self, service: str, than: str) -> bool:
        """Tell whether `than` depends on `service`, directly or through others."""
        return service in self._below.get(than, frozenset())

    def root(self, service: str, root: str) -> str | None:
        """Return the root candidate once `service` joins `root`; None if not connected."""
        if service == root or self.deeper(root, than=service):
            return root
        if self.deeper(service, than=root):
            return service
        common = self._down.get(service, frozenset()) & self._down.get(root, frozenset())
        # the deepest of what both depend on: those depending on no other common service
        sinks = sorted(c for c in common if not self._below[c] & common)
        return sinks[0] if sinks else None


@lru_cache(maxsize=8)
def _graph(edges: tuple[tuple[str, str], ...]) -> ServiceGraph:
    return ServiceGraph(edges)


def service_graph(settings: Settings) -> ServiceGraph:
    """Return the graph of the settings' service map, empty when cascade grouping is off."""
    if not settings.cascade_grouping:
        return _graph(())
    edges = tuple(sorted(
        (caller, callee) for caller, callees in settings.service_map.items() for callee in callees
    ))
    return _graph(edges)
