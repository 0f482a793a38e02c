"""A call graph inferred when the snapshot carries none (no service mesh, no tracing backend,
no topology export).

Three readings of the evidence, the directed ones first:

- a caller's log line naming its dependency ("call to X timed out") links the caller to it;
- the order of errors within one request's trace links the places that failed later to the
  one that failed first (traces.error_order_edges);
- a place whose lines of one request's trace fall between two lines of another's was called
  by it (traces.nesting_edges);
- places whose anomalous series move together are linked without a direction
  (correlation.comoving), and so are places that began to fail in the same way at the same
  sample (`_together`). A data store or an outside host is the callee of such a link: it
  calls none of the services it is linked to. Between two services, the one whose error
  ratio rose far more is the callee (localise.mark_victims): a caller fails only the share
  of its requests that reach the failing callee.

Inferred links are partial: a place they do not connect to the alert may still be below it,
so the walk treats every place as possibly below an alert when the graph is inferred.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from itertools import combinations
from typing import TYPE_CHECKING

from warroom.agents.diagnostician.correlation import comoving
from warroom.agents.diagnostician.faulttype import external_host, is_datastore
from warroom.agents.diagnostician.traces import error_order_edges, nesting_edges

TOGETHER = 0.5  # the least anomaly of a symptom that links a sink by its onset alone

if TYPE_CHECKING:
    from warroom.agents.diagnostician.index import Entity, Index
    from warroom.agents.diagnostician.localise import Place
    from warroom.agents.diagnostician.logs import LogEvidence
    from warroom.agents.diagnostician.topology import Graph


def infer_links(g: Graph, logev: LogEvidence,
                errors: dict[str, list[tuple[float, Entity]]],
                events: dict[str, list[tuple[float, Entity]]]) -> None:
    """Add the directed links the logs show to a graph the snapshot left empty: the callers'
    lines naming a dependency (`logev`), the order of errors per trace (`errors`) and how the
    lines of each trace nest (`events`, every line with a trace id)."""
    for caller, dep in _log_links(logev):
        g.add(caller, dep)
    for caller, callee in error_order_edges(errors):
        g.add(caller, callee)
    for caller, callee in nesting_edges(events):
        if caller not in g.above(callee) and callee not in g.above(caller):
            g.add(caller, callee)


def unmapped_links(g: Graph, logev: LogEvidence) -> bool:
    """Add the links the callers' logs show to dependencies a call graph does not know at all
    (a mesh's graph has the services it runs beside, not always the database or outside host
    they call); return whether any was added."""
    known = set(g.callees) | set(g.callers)
    unknown = [(caller, dep) for caller, dep in _log_links(logev) if dep not in known]
    for caller, dep in unknown:
        g.add(caller, dep)
    return bool(unknown)


def _log_links(logev: LogEvidence) -> Iterator[tuple[Entity, Entity]]:
    """(caller, dependency) of every caller's log line that names a dependency."""
    for dep, cats in logev.about.items():
        for items in cats.values():
            for caller, _ in items:
                yield caller, dep


def undirected_links(ix: Index, places: dict[Entity, Place]
                     ) -> tuple[dict[Entity, set[Entity]], frozenset[Entity]]:
    """Return the co-movement links between anomalous places, and which places are sinks.

    A sink is linked to any place that went wrong with it; two services only when they began
    to fail at the same sample, the one link whose direction their error ratios can give."""
    sinks = frozenset(e for e, p in places.items()
                      if is_datastore(ix, e, p) or external_host(ix, e))
    links = comoving(ix, places)
    starts = {e: m for e, p in places.items() if (m := _strong_onsets(p))}
    for a, b in combinations(sorted(starts), 2):
        if a in sinks and b in sinks:
            continue
        kinds = ("errors", "latency") if a in sinks or b in sinks else ("errors",)
        if _together(starts[a], starts[b], kinds):
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
    return links, sinks


Onsets = dict[str, list[tuple[datetime, float]]]


def _strong_onsets(p: Place) -> Onsets:
    """Return when each symptom (errors, latency) of a place began, where it is strongly
    anomalous (TOGETHER or more), with the sampling step of the series that shows it."""
    out: Onsets = {}
    for s in p.signals:
        if s.kind in ("errors", "latency") and s.score >= TOGETHER and s.onset is not None:
            out.setdefault(s.kind, []).append((s.onset, s.step))
    return out


def _together(a: Onsets, b: Onsets, kinds: tuple[str, ...]) -> bool:
    """Tell whether two places went wrong in the same way from the same sample on: one of
    `kinds` strongly anomalous at both, its onsets one step apart at most."""
    return any(abs((x - y).total_seconds()) <= max(dx, dy)
               for kind in kinds for x, dx in a.get(kind, []) for y, dy in b.get(kind, []))
