"""A call graph inferred when the snapshot carries none (no service mesh, no tracing backend,
no topology export).

Three readings of the evidence, the directed ones first:

- a caller's log line naming its dependency ("call to X timed out") links the caller to it;
- the order of errors within one request's trace links the places that failed later to the
  one that failed first (traces.error_order_edges);
- places whose anomalous series move together are linked without a direction
  (correlation.comoving). A data store or an outside host is the callee of such a link: it
  calls none of the services it is linked to.

Inferred links are partial: a place they do not connect to the alert may still be below it,
so the walk treats every place as possibly below an alert when the graph is inferred.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from warroom.agents.diagnostician.correlation import comoving
from warroom.agents.diagnostician.faulttype import external_host, is_datastore
from warroom.agents.diagnostician.traces import error_order_edges

TOGETHER = 0.5  # the least anomaly of a symptom that links a sink by its onset alone

if TYPE_CHECKING:
    from warroom.agents.diagnostician.index import Entity, Index
    from warroom.agents.diagnostician.localise import Place
    from warroom.agents.diagnostician.logs import LogEvidence
    from warroom.agents.diagnostician.topology import Graph


def infer_links(g: Graph, logev: LogEvidence,
                errors: dict[str, list[tuple[float, Entity]]]) -> None:
    """Add the directed links the logs show to a graph the snapshot left empty: the callers'
    lines naming a dependency (`logev`), and the order of errors per trace (`errors`)."""
    for dep, cats in logev.about.items():
        for items in cats.values():
            for caller, _ in items:
                g.add(caller, dep)
    for caller, callee in error_order_edges(errors):
        g.add(caller, callee)


def undirected_links(ix: Index, places: dict[Entity, Place]
                     ) -> tuple[dict[Entity, set[Entity]], frozenset[Entity]]:
    """Return the co-movement links between anomalous places, and which places are sinks."""
    sinks = frozenset(e for e, p in places.items()
                      if is_datastore(ix, e, p) or external_host(ix, e))
    links = comoving(ix, places)
    for sink in sinks:
        for ent, p in places.items():
            if ent not in sinks and _together(places[sink], p):
                links.setdefault(sink, set()).add(ent)
                links.setdefault(ent, set()).add(sink)
    return links, sinks


def _together(a: Place, b: Place) -> bool:
    """Tell whether two places went wrong in the same way from the same sample on: the same
    symptom (errors, latency) strongly anomalous at both, its onsets one step apart at most."""
    for kind in ("errors", "latency"):
        sa = [(s.onset, s.step) for s in a.signals
              if s.kind == kind and s.score >= TOGETHER and s.onset is not None]
        sb = [(s.onset, s.step) for s in b.signals
              if s.kind == kind and s.score >= TOGETHER and s.onset is not None]
        if any(abs((x - y).total_seconds()) <= max(dx, dy) for x, dx in sa for y, dy in sb):
            return True
    return False
