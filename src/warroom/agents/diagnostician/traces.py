"""Traces as evidence: where the time of slow requests is spent (the critical path's owner).

A trace rendered as a span tree (one span per line, `├─ NAME (SERVICE) - 123.4ms`, children
indented below their parent, as Tempo and Jaeger tools print them) is read from the snapshot's
documents. Each span's self time is its duration minus its children's: time the service spent
itself rather than waiting on a callee. A caller waiting on a slow callee has a long span but a
short self time, so it is a victim; the place with the largest share of self time across the
traces is where the requests were slow. When that time went to database queries (spans with a
`db.system` attribute), the place's database work is what is slow.

Logs that carry trace ids link errors across places: when one request's trace holds error
lines at several places, and the first of them was logged by a place the others call (directly
or not), the error began there and travelled up to its callers. A place where such chains
begin, several times, is evidence of an application error of its own.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.logs import line_time
from warroom.agents.diagnostician.templates import is_error_line
from warroom.agents.diagnostician.topology import Graph

_SPAN = re.compile(r"^(?P<indent>[\s│|]*)[├└]─+\s*(?P<name>.+?)\s+\((?P<service>[^()]+)\)\s+-\s+"
                   r"(?P<ms>\d+(?:\.\d+)?)\s*ms\b")
_NAMESPACE = re.compile(r"k8s\.namespace\.name='([^']+)'")
_DB = re.compile(r"\bdb\.system\s*[:=]")
MIN_SHARE = 0.5  # the place must own at least half the traced time to be named
MIN_TRACED_MS = 1000.0  # traces faster than a second in total say nothing about slowness
TRACE_WEIGHT = 0.45
_TRACE_ID = re.compile(r"trace[_-]?id[\"']?\s*[:=]?\s*[\"']?([0-9a-f]{16,32})\b", re.I)
MIN_CHAINS = 2  # one propagated error is an accident; two are a pattern
MIN_NESTS = 1  # one request whose lines nest is a call seen, not a guess


@dataclass
class _Span:
    depth: int
    service: str
    ms: float
    namespace: str = ""
    db: bool = False
    children: list[_Span] = field(default_factory=list)


def _spans(text: str) -> list[_Span]:
    """Parse the span trees of one document; return the root spans."""
    roots: list[_Span] = []
    stack: list[_Span] = []
    for line in text.splitlines():
        m = _SPAN.match(line)
        if m is None:
            if stack:
                ns = _NAMESPACE.search(line)
                if ns:
                    stack[-1].namespace = ns.group(1)
                if _DB.search(line):
                    stack[-1].db = True
            continue
        span = _Span(depth=len(m.group("indent")), service=m.group("service").strip(),
                     ms=float(m.group("ms")))
        while stack and stack[-1].depth >= span.depth:
            stack.pop()
        (stack[-1].children if stack else roots).append(span)
        stack.append(span)
    return roots


def _self_times(span: _Span, out: dict[tuple[str, str], list[float]]) -> None:
    """Add each span's self time (own time minus its children's) to its place: [all, db]."""
    own = max(0.0, span.ms - sum(c.ms for c in span.children))
    acc = out.setdefault((span.namespace, span.service), [0.0, 0.0])
    acc[0] += own
    if span.db:
        acc[1] += own
    for c in span.children:
        if not c.namespace and c.service == span.service:
            c.namespace = span.namespace
        _self_times(c, out)


def trace_findings(ix: Index) -> list[Finding]:
    """Name the place that owns most of the traced requests' time, if one clearly does."""
    per_place: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    total = 0.0
    seen: set[str] = set()
    for doc in ix.snapshot.documents:
        if doc.text in seen:
            continue
        seen.add(doc.text)
        for root in _spans(doc.text):
            total += root.ms
            _self_times(root, per_place)
    if total < MIN_TRACED_MS or not per_place:
        return []
    (ns, service), (own, db) = max(per_place.items(), key=lambda kv: kv[1][0])
    share = own / total
    if share < MIN_SHARE:
        return []  # the time is spread out: no single place is where it went
    ent = ix.entity(service, ns)
    fault = "database_saturation" if db >= 0.5 * own else "application_error"
    what = "its database queries" if fault == "database_saturation" else "its own spans"
    return [Finding(ent[0], ent[1], fault, round(TRACE_WEIGHT * share + 0.1, 3),
                    f"traces: {share:.0%} of {total / 1000:.1f} s of traced request time is "
                    f"spent in {what} at {service} (self time, callees excluded)",
                    source="traces")]


_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)")


def _precise_time(line: str) -> float | None:
    """Return when a line was logged, to the sub-second its stamp gives (epoch seconds)."""
    m = _STAMP.search(line[:40])
    if m is None:
        at = line_time(line)
        return at.timestamp() if at is not None else None
    try:
        return datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}").replace(
            tzinfo=UTC).timestamp()
    except ValueError:
        return None


def trace_events(ix: Index, keep: Callable[[str], bool] | None = None
                 ) -> dict[str, list[tuple[float, Entity]]]:
    """Return, per trace id, when each place logged a line of it (the lines `keep` keeps)."""
    by_trace: dict[str, list[tuple[float, Entity]]] = defaultdict(list)
    for stream in ix.snapshot.logs:
        owner = ix.stream_owner(stream)
        if not owner[1]:
            continue
        for line in stream.lines:
            if keep is not None and not keep(line):
                continue
            m = _TRACE_ID.search(line)
            if m is None:
                continue
            at = _precise_time(line)
            if at is not None:
                by_trace[m.group(1).lower()].append((at, owner))
    return by_trace


def error_traces(ix: Index) -> dict[str, list[tuple[float, Entity]]]:
    """Return, per trace id, when each place logged an error line of it (read once, shared by
    the error chains and the links inferred from their order)."""
    return trace_events(ix, is_error_line)


def error_order_edges(by_trace: dict[str, list[tuple[float, Entity]]]
                      ) -> list[tuple[Entity, Entity]]:
    """Infer caller -> callee links from the order of errors in one request's trace.

    A failing callee logs its error and returns; the callers waiting on it then fail and log
    theirs, later, in the same trace. So the place whose error came first in a trace is
    called (directly or not) by the places that failed after it. A link counts when two
    traces or more show it and it is seen more often this way than the other.
    """
    seen: dict[tuple[Entity, Entity], int] = defaultdict(int)
    for events in by_trace.values():
        first: dict[Entity, float] = {}
        for at, ent in sorted(events):
            first.setdefault(ent, at)
        if len(first) < 2:
            continue
        origin = min(first, key=lambda e: (first[e], e))
        if sum(1 for at in first.values() if at == first[origin]) > 1:
            continue  # two places failed at once: nothing says which came first
        for ent in first:
            if ent != origin:
                seen[(ent, origin)] += 1
    return sorted(pair for pair, n in seen.items()
                  if n >= MIN_CHAINS and n > seen.get((pair[1], pair[0]), 0))


def nesting_edges(by_trace: dict[str, list[tuple[float, Entity]]]
                  ) -> list[tuple[Entity, Entity]]:
    """Infer caller -> callee links from how one request's log lines nest (`trace_events`).

    A synchronous call's lines at the callee fall between two of its caller's: the caller
    logs, calls, waits, and logs again once the callee has returned. So a place with lines of
    the trace both before another place's first line and after its last one called it,
    directly or not; of the places that enclose it so, the one whose enclosing pair of lines is
    tightest is the direct caller. Siblings called one after the other never enclose each
    other, and a place whose caller logged nothing after the call gets no link at all. One
    trace is enough for a link, unless more traces nest the two places the other way.
    """
    seen: dict[tuple[Entity, Entity], int] = defaultdict(int)
    for events in by_trace.values():
        times: dict[Entity, list[float]] = defaultdict(list)
        for at, ent in events:
            times[ent].append(at)
        if len(times) < 2:
            continue
        for ts in times.values():
            ts.sort()
        for callee, own in times.items():
            enclosing: list[tuple[float, Entity]] = []
            for caller, ts in times.items():
                before = bisect_left(ts, own[0])  # the caller's lines before the callee's first
                after = bisect_right(ts, own[-1])  # ... and its first after the callee's last
                if caller != callee and before > 0 and after < len(ts):
                    enclosing.append((ts[after] - ts[before - 1], caller))
            if enclosing:
                seen[(min(enclosing)[1], callee)] += 1
    return sorted(pair for pair, n in seen.items()
                  if n >= MIN_NESTS and n > seen.get((pair[1], pair[0]), 0))


def error_chain_findings(by_trace: dict[str, list[tuple[float, Entity]]],
                         g: Graph) -> list[Finding]:
    """Name the places where errors that travelled up a trace (`error_traces`) to their
    callers began."""
    chains: dict[Entity, int] = defaultdict(int)
    callers: dict[Entity, set[Entity]] = defaultdict(set)
    for events in by_trace.values():
        places = {e for _, e in events}
        if len(places) < 2:
            continue
        start = min(t for t, _ in events)
        # the earliest error; at the same instant, the one its fellow places call
        firsts = sorted({e for t, e in events if t == start}, key=lambda e: -len(g.above(e)))
        first = firsts[0]
        above = g.above(first) & places
        if above:
            chains[first] += 1
            callers[first] |= above
    out = []
    for ent, n in sorted(chains.items()):
        if n < MIN_CHAINS:
            continue
        names = ", ".join(sorted(c[1] for c in callers[ent]))
        out.append(Finding(ent[0], ent[1], "application_error", min(0.55, 0.25 + 0.05 * n),
                           f"logs: in {n} traces an error at {ent[1]} came first and its "
                           f"callers ({names}) then failed in the same trace", source="logs"))
    return out
