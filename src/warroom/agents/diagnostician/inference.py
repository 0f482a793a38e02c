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

if TYPE_CHECKING:
    from warroom.agents.diagnostician.index import Entity, Index
    from warroom.agents.diagnostician.localise import Place
    from warroom.agents.diagnostician.logs import LogEvidence
    from warroom.agents.diagnostician.topology import Graph


def infer_links(ix: Index, g: Graph, logev: LogEvidence) -> None:
    """Add the directed links the logs show to a graph the snapshot left empty."""
    for dep, cats in logev.about.items():
        for items in cats.values():
            for caller, _ in items:
                g.add(caller, dep)
    for caller, callee in error_order_edges(ix):
        g.add(caller, callee)


def undirected_links(ix: Index, places: dict[Entity, Place]
                     ) -> tuple[dict[Entity, set[Entity]], frozenset[Entity]]:
    """Return the co-movement links between anomalous places, and which places are sinks."""
    sinks = frozenset(e for e, p in places.items()
                      if is_datastore(ix, e, p) or external_host(ix, e))
    return comoving(ix, places), sinks
