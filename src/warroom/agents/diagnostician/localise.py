"""Localisation as a method: every place with evidence is a candidate, callers that only inherit
a callee's trouble are victims, and the fault is typed from the pattern of what moved.

A place's anomaly combines its strongest anomalous series (anomaly.py) with its strongest new
or surging error log template (templates.py). Walking the call graph from each anomalous place
to its callees (the deepest-anomalous-callee rule with onset ordering, as in the
microservice RCA literature): a place whose anomalies are all of the inheritable kinds (errors,
latency, traffic) while one of its callees is anomalous too, and did not start later, is a
victim. What remains are root candidates, typed by which kinds of signal moved at the place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from warroom.agents.diagnostician.anomaly import Signal, describe
from warroom.agents.diagnostician.excursion import MIN_Z
from warroom.agents.diagnostician.faulttype import external_host, resourced, type_fault
from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.templates import TemplateShift
from warroom.agents.diagnostician.topology import Graph

_INHERITED = frozenset({"errors", "latency", "traffic", "other"})
VICTIM_FACTOR = 0.3
LATE_FACTOR = 0.6
IDLE_FACTOR = 0.3
_ONSET_SLACK = timedelta(minutes=5)
ATTENUATION = 2.0  # how much more a callee's error ratio rises than its caller's
_ALERT_LEAD = timedelta(minutes=2)  # the anchor is this long before the first alert fired
AFTER_ALERT_SLACK = timedelta(minutes=2)
AFTER_ALERT_FACTOR = 0.3
WEAK = 0.1  # the least anomaly that says a place moved at all
METHOD_WEIGHT = 0.22  # the method's evidence is checkable but weaker than a fingerprint
# Student's t, two-sided 95%, by degrees of freedom: how much wider than a normal's the
# interval a new sample falls in when the spread was estimated from so few baseline samples
_T975 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23)


def small_sample_factor(baseline_points: int) -> float:
    """Return how much larger a z must be to be news when the baseline had this many samples
    (1 with ten or more: the normal's interval)."""
    dof = max(1, baseline_points - 1)
    return _T975[dof - 1] / 1.96 if dof <= len(_T975) else 1.0


@dataclass
class Place:
    """Everything anomalous at one place."""

    entity: Entity
    signals: list[Signal] = field(default_factory=list)
    template: tuple[float, TemplateShift] | None = None
    anomaly: float = 0.0
    onset: datetime | None = None
    victim_of: Entity | None = None
    named: int = 0  # error log lines of its callers that name it as the failing dependency
    blind_below: Entity | None = None  # set on an unobserved external host its caller blames
    late: bool = False  # its anomaly began after the alert fired (gather)

    @property
    def kinds(self) -> set[str]:
        out = {s.kind for s in self.signals if s.score >= 0.1}
        if self.template is not None or self.named:
            out.add("errors")
        if any(s.stopped for s in self.signals):
            out.add("stopped")
        return out

    @property
    def over(self) -> bool:
        """Tell whether all its trouble is excursions already back to their baseline."""
        moved = [s for s in self.signals if s.score >= 0.1 or s.stopped]
        return (bool(moved) and all(s.transient for s in moved) and self.template is None
                and not self.named)

    @property
    def moved_at_all(self) -> bool:
        """Tell whether its own errors, latency or resources moved at all and are still off."""
        return (self.victim_of is None and not self.over
                and self.kind_score({"errors", "latency", "saturation", "free", "stopped"}) >= WEAK)

    @property
    def moved_beyond_chance(self) -> bool:
        """Tell whether it moved by more than the noise its baseline allows: `moved_at_all`,
        by a series that stopped, climbs steadily, doubled (or halved) in its bad direction, or
        whose z stays large once widened for how few baseline samples estimated its spread
        (two samples say little about a series' noise), or by trouble its logs or callers
        name."""
        if not self.moved_at_all:
            return False
        kinds = {"errors", "latency", "saturation", "free"}
        return (any(s.stopped or s.climbing or (
            s.kind in kinds and s.score >= WEAK and s.z > 0 and (
                not 0.5 < s.ratio < 2.0
                or s.z >= MIN_Z * small_sample_factor(s.baseline_points)))
            for s in self.signals)
                or (self.template is not None and 0.7 * self.template[0] >= WEAK)
                or self.named >= 2)

    def kind_score(self, kinds: set[str]) -> float:
        """Return the strongest anomaly among signals of the given kinds."""
        best = max((s.score for s in self.signals if s.kind in kinds), default=0.0)
        if "errors" in kinds and self.template is not None:
            best = max(best, 0.7 * self.template[0])
        if kinds & {"errors", "latency"} and self.named >= 2:
            best = max(best, 0.6)
        return best


def gather(signals: list[Signal], templates: dict[Entity, tuple[float, TemplateShift]],
           named: dict[Entity, int], anchor: float | None = None) -> dict[Entity, Place]:
    """Group anomalous signals, log templates and log pointers by place; score each place.

    With the incident's `anchor` (split_time), places whose trouble began after the alert
    fired are marked `late`.
    """
    out: dict[Entity, Place] = {}
    # a place that served no requests in its baseline has latency and error ratios computed
    # over next to nothing: their swings are noise, not evidence
    idle = {s.entity for s in signals if s.kind == "traffic" and abs(s.base) < 1e-9}
    for sig in signals:
        if sig.score <= 0 and not sig.stopped:
            continue
        if sig.entity in idle and sig.kind in ("latency", "errors"):
            sig = replace(sig, score=sig.score * IDLE_FACTOR)
        p = out.setdefault(sig.entity, Place(sig.entity))
        p.signals.append(sig)
    for ent, tmpl in templates.items():
        out.setdefault(ent, Place(ent)).template = tmpl
    for ent, count in named.items():
        if count >= 2:
            out.setdefault(ent, Place(ent)).named = count
    for p in out.values():
        scores = sorted((max(s.score, 0.3 if s.stopped else 0.0) for s in p.signals),
                        reverse=True)
        metric = scores[0] + 0.15 * sum(scores[1:3]) * (1 - scores[0]) if scores else 0.0
        logs = 0.7 * p.template[0] if p.template else 0.0
        pointed = 0.6 if p.named else 0.0
        p.anomaly = 1 - (1 - min(metric, 1.0)) * (1 - logs) * (1 - pointed)
        # its own symptoms say when it went wrong; demand follows its callers, and says so
        # only at a place where nothing else moved
        timed = [s for s in p.signals if s.onset is not None]
        onsets = [s.onset for s in [s for s in timed if s.kind != "traffic"] or timed
                  if s.onset is not None]
        p.onset = min(onsets) if onsets else None
        if anchor is not None:
            p.late = _late(p, datetime.fromtimestamp(anchor, tz=UTC) + _ALERT_LEAD)
    return out


# what a callee's trouble can cause in its callers
_CAUSES = {"errors": {"errors", "saturation", "stopped", "latency"},
           "latency": {"latency", "saturation", "errors", "stopped"},
           "traffic": {"errors", "latency", "saturation", "stopped", "traffic"},
           "other": {"errors", "latency", "saturation", "stopped", "other"}}


def _rise(sig: Signal) -> float:
    return sig.recent - sig.base


def _explains(p: Place, q: Place, kind: str, series: dict[Entity, dict[str, Signal]]) -> bool:
    """Tell whether callee q's trouble can account for caller p's symptom of one kind.

    Where both report the caller's most anomalous series, magnitudes must agree: a caller's
    latency cannot rise by more than twice what its callee's rose, nor its error ratio by
    more than twice the callee's. A callee seen with a flat error ratio explains its caller's
    errors only by a slowness as large as the caller's (timeouts).
    """
    if q.kind_score({"saturation", "stopped"}) >= 0.25 or q.named:
        return True  # a callee out of resources or blamed by name can cause anything
    mine = [s for s in p.signals if s.kind == kind and s.score > 0]
    theirs = series.get(q.entity, {})
    same = [(s, theirs[s.name]) for s in mine if s.name in theirs]
    if kind in ("errors", "latency") and same:
        mine_best, theirs_same = max(same, key=lambda pair: pair[0].score)
        if theirs_same.score > 0 and _rise(theirs_same) >= 0.5 * _rise(mine_best):
            return True
        if kind == "errors":
            # timeouts on a slow callee make the caller wait too: a caller whose errors rose
            # with its own latency flat failed fast, in its own code
            return (p.kind_score({"latency"}) >= 0.25 and _explains(p, q, "latency", series)
                    and q.kind_score({"latency"}) >= 0.25)
        return False
    return q.kind_score(_CAUSES[kind]) >= 0.25


def _fails_harder(q: Place, p: Place, series: dict[Entity, dict[str, Signal]]) -> bool:
    """Tell whether q's error ratio rose at least ATTENUATION times as much as p's did.

    Errors fade on their way up a call chain: a caller fails only the share of its requests
    that reach the failing callee, and absorbs some of those by retrying. Of two services
    that began to fail together, the one failing far harder is the callee. (A caller calling
    a failing callee several times per request can fail more often than it; the margin keeps
    the commoner cases of that from turning the link around.)
    """
    mine, theirs = series.get(p.entity, {}), series.get(q.entity, {})
    for name, sp in mine.items():
        sq = theirs.get(name)
        if (sq is None or sp.kind != "errors" or sp.score < 0.25 or sq.score < 0.25
                or not all(0.0 <= v <= 1.0 for v in (sp.base, sp.recent, sq.base, sq.recent))):
            continue  # a share of requests at both, moved at both
        if _rise(sq) >= ATTENUATION * max(_rise(sp), 0.0) > 0.0:
            return True
    return False


def mark_victims(places: dict[Entity, Place], g: Graph,
                 series: dict[Entity, dict[str, Signal]],
                 shared: tuple[Entity, ...] = (),
                 weak: dict[Entity, set[Entity]] | None = None,
                 sinks: frozenset[Entity] = frozenset()) -> None:
    """Mark places whose trouble a callee explains (inheritable kinds, callee not later).

    `shared` are places everything depends on without a call-graph edge (cluster DNS).
    `weak` are undirected links from co-movement (correlation.py), used when there is no
    call graph: the neighbour must have started first, have its own resources moved, be a
    sink (a data store or an outside host, which calls none of the places it is linked to), or
    fail far harder (`_fails_harder`).
    """
    for p in places.values():
        if not p.kinds or not p.kinds <= _INHERITED:
            continue  # its own resources moved: not merely a victim
        linked = sorted((weak or {}).get(p.entity, set()) - g.below(p.entity) - set(shared))
        for c in [*sorted(g.below(p.entity)), *shared, *linked]:
            q = places.get(c)
            if q is None or q is p:
                continue
            if c in linked and not (q.kinds - _INHERITED or (
                    q.onset and p.onset and q.onset < p.onset) or (
                    c in sinks and p.entity not in sinks) or _fails_harder(q, p, series)):
                continue  # a link without direction: only an earlier, resource-bound or sink
            # a failing resolver everyone depends on fails its clients' requests or makes them
            # wait and retry: its errors account for their errors and latency alike
            resolver = c in shared and q.kind_score({"errors"}) >= 0.25 and p.kinds <= {
                "errors", "latency", "traffic"}
            if not resolver and not all(_explains(p, q, k, series) for k in p.kinds):
                continue  # the callee did not go wrong in a way that explains every symptom
            if p.onset and q.onset and q.onset > p.onset + _ONSET_SLACK:
                continue  # the callee went wrong after its caller: it does not explain it
            p.victim_of = c
            break


def blame_stopped_node(ix: Index, places: dict[Entity, Place]) -> None:
    """Hand the trouble of places that went silent with a node that went silent to the node.

    When a node stops reporting, the pods it ran stop with it. With no objects to say which
    pods ran where, the stop times do: a place whose series stopped within one sampling step
    of the node's is taken to have run there, and is the node's victim. Only one silent node
    can be blamed this way; with several, the times do not say which.
    """
    nodes = [p for p in places.values()
             if p.entity[0] == "" and p.entity[1] in ix.node_names
             and any(s.stopped for s in p.signals)]
    if len(nodes) != 1:
        return
    node = nodes[0]
    stops = [s for s in node.signals if s.stopped]
    at = max(s.last for s in stops)
    slack = 1.5 * max(60.0, max(s.step for s in stops))
    for p in places.values():
        if p is node or p.victim_of is not None or p.entity[1] in ix.node_names:
            continue
        if any(s.stopped and abs(s.last - at) <= slack for s in p.signals):
            p.victim_of = node.entity


def blame_blind_hosts(ix: Index, places: dict[Entity, Place], g: Graph,
                      observed: set[Entity]) -> None:
    """Hand a root candidate's symptoms to an external host it calls that nobody observes.

    A place failing only in inheritable ways whose own resources are quiet, calling an outside
    host with no telemetry of its own, is most likely a victim of that host when it also got
    slower: a call to a failing host is waited on (timeouts, retries), while a fault in the
    caller's own code fails fast. The host cannot show its own anomaly, so the caller's stands
    in for it. Errors alone at the caller say nothing about which of the two broke unless a
    document names the host; otherwise the caller keeps them (log lines naming the host are
    read by the log analyzers).
    """
    for p in list(places.values()):
        if p.victim_of or p.anomaly < 0.3 or not p.kinds or not p.kinds <= _INHERITED:
            continue
        blind = sorted(c for c in g.callees.get(p.entity, ())
                       if c not in observed and external_host(ix, c))
        if len(blind) != 1:
            continue  # no outside host, or several: nothing says which one
        if p.kind_score({"latency"}) < 0.25 and not _reported(ix, blind[0]):
            continue  # failing fast and nobody reports the host down: the caller broke
        if p.template is not None and not _names(p.template[1], blind[0]):
            continue  # a new error of its own that does not name the host: the caller broke
        host = places.setdefault(blind[0], Place(blind[0]))
        host.anomaly = max(host.anomaly, p.anomaly)
        host.onset = p.onset
        host.blind_below = p.entity
        p.victim_of = blind[0]


def _names(shift: TemplateShift, host: Entity) -> bool:
    """Tell whether a log template (or its example line) names the host."""
    return any(host[1].lower() in text.lower() for text in (shift.template, shift.example))


def _reported(ix: Index, host: Entity) -> bool:
    """Tell whether a document of the snapshot (a status page, a report) names the host."""
    return any(host[1].lower() in f"{d.title}\n{d.text}".lower() for d in ix.snapshot.documents)


def _late(p: Place, fired: datetime) -> bool:
    """Tell whether a place's series, seen before the alert fired, were still inside their band
    at a sample taken after it: its anomaly began after the alert's symptom, so it cannot be
    why it fired. Log evidence has no onset of its own: a place it names is never late."""
    if p.onset is None or p.template is not None or p.named or not p.signals:
        return False
    if min(s.first for s in p.signals) >= fired.timestamp():
        return False  # not seen before the alert fired (a stale alert): nothing to compare
    step = max((s.step for s in p.signals if s.onset == p.onset), default=60.0)
    return p.onset - timedelta(seconds=step) > fired + AFTER_ALERT_SLACK


def method_findings(ix: Index, places: dict[Entity, Place], alerts: list[Entity],
                    named_by_alert: dict[Entity, str],
                    walk: Mapping[Entity, float] | None = None,
                    fired_on: frozenset[str] = frozenset()) -> list[Finding]:
    """Turn every anomalous place into a typed finding, victims discounted.

    The alert's own symptom (errors, latency) is what the walk follows: a place anomalous in
    the same way keeps its score, one anomalous only in other ways counts for less. The
    symptom is what moved at the alerting place, and what the alert is known to have fired on
    (`fired_on`) however little that moved. Where an alert's name already says what the fault
    is, that fingerprint types the place.
    """
    symptom: set[str] = set(fired_on)
    for a in alerts:
        if a in places:
            symptom |= places[a].kinds & {"errors", "latency"}
    roots = [p.onset for p in places.values()
             if p.onset is not None and p.victim_of is None and p.anomaly >= 0.3]
    first = min(roots) if roots else None
    watched = resourced(ix)
    out: list[Finding] = []
    for ent, p in sorted(places.items()):
        if p.anomaly < 0.1:
            continue
        fault, why = type_fault(ix, p, watched)
        # a blind host has no series of its own (it is unobserved): the caller it stands in
        # for shows them
        shown = places.get(p.blind_below, p) if p.blind_below is not None else p
        if ent in named_by_alert:
            fault, why = named_by_alert[ent], "the alert firing on it names this fault"
        anomaly = p.anomaly
        if walk is not None:
            # the walk explains the alert from below: a place's strength is its own anomaly
            # and its walk rank together (geometric mean), as MicroRCA ranks by the walk
            anomaly = math.sqrt(anomaly * walk.get(ent, 0.0))
        if symptom and ent not in alerts:
            anomaly = max(shown.kind_score(symptom | {"saturation", "stopped"}), 0.5 * anomaly)
        if p.late:
            anomaly *= AFTER_ALERT_FACTOR  # still normal after the alert fired: not its cause
        elif first is not None and p.onset is not None and p.onset > first + _ONSET_SLACK:
            anomaly *= LATE_FACTOR  # a root's anomaly starts first; this one came later
        weight = METHOD_WEIGHT * anomaly * (VICTIM_FACTOR if p.victim_of else 1.0)
        strongest = sorted(shown.signals, key=lambda s: -s.score)[:2]
        parts = [describe(s) for s in strongest]
        if p.template is not None:
            strength, sh = p.template
            parts.append(f"log template {'new' if sh.before == 0 else 'surging'} after onset "
                         f"({sh.before} -> {sh.after} lines): {sh.template[:160]}")
        if p.victim_of is not None:
            parts.append(f"its callee {p.victim_of[1]} is anomalous too (inherited)")
        text = f"anomaly {p.anomaly:.2f}, {fault} because {why}: " + "; ".join(parts)
        out.append(Finding(ent[0], ent[1], fault, round(weight, 3), text,
                           generic=p.victim_of is not None, onset=p.onset, source="method"))
    return out
