"""Pods replaced by a rollout, read from the pod names in the metrics.

A Deployment's pods are named `<workload>-<pod-template-hash>-<id>`, and every rollout makes a
ReplicaSet with a new hash, so per-pod series (cAdvisor, recording rules) show a rollout with no
object or change feed at all: a pod's series stops and, a step or two later, the series of a pod
of the same workload with a new hash begins. Read naively that is two anomalies (a target that
stopped reporting, a young series without a baseline) on every rollout, healthy or not.

So the series of a replaced pod and of its successor are stitched into one (the successor's
labels, the predecessor's history as its baseline), and each stitch is recorded: the rollouts
themselves are evidence (`changes.rollouts_from_pod_series`). A pod replaced under the same hash
(evicted, deleted, its node gone) is not stitched: that its series stopped is news.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from warroom.agents.diagnostician.resolution import sampling_step
from warroom.sensors.models import Series

HASH_POD = re.compile(r"^(?P<base>.+?)-(?P<hash>[a-z0-9]{5,10})-(?P<id>[a-z0-9]{5})$")
Entity = tuple[str, str]  # (namespace, service); nodes and external hosts have namespace ""


@dataclass(frozen=True)
class Rollover:
    """A pod of `entity` whose series a pod of a new ReplicaSet took over at `at`."""

    entity: Entity
    old_pod: str
    new_pod: str
    old_hash: str
    new_hash: str
    at: float  # unix seconds of the successor's first sample


@dataclass
class _Run:
    series: Series
    pts: list[tuple[float, float]]
    rs_hash: str


def stitch(series: list[Series], owner: Callable[[str, str], Entity],
           points: Callable[[Series], list[tuple[float, float]]]
           ) -> tuple[list[Series], list[Rollover]]:
    """Return the series with replaced pods' runs joined to their successors', and the joins."""
    spans = [p for s in series if (p := points(s))]
    if not spans:  # nothing reports: nothing to stitch
        return series, []
    latest = max(p[-1][0] for p in spans)
    groups: dict[tuple[Entity, tuple[tuple[str, str], ...]], list[_Run]] = {}
    for s in series:
        m = HASH_POD.match(s.metric.get("pod", ""))
        pts = points(s) if m else []
        if not m or not pts:
            continue
        ns = s.metric.get("namespace", "")
        rest = tuple(sorted((k, v) for k, v in s.metric.items() if k != "pod"))
        groups.setdefault((owner(ns, s.metric["pod"]), rest), []).append(
            _Run(s, pts, m.group("hash")))
    absorbed: set[int] = set()  # predecessors, now part of their successor's series
    joined: dict[int, _Run] = {}  # successors carrying their predecessor's history
    rollovers: list[Rollover] = []
    for (entity, _), runs in groups.items():
        if len(runs) < 2:
            continue
        step = sampling_step([t for t, _ in r.pts] for r in runs)
        slack = 0.5 * step  # a pair of its own makes a stitch: a sample missed is enough
        ended = [r for r in runs if r.pts[-1][0] < latest - slack]
        # in time order, so a pod replaced twice chains its history
        for new in sorted(runs, key=lambda r: r.pts[0][0]):
            start, level = new.pts[0]
            # its predecessor: another hash, begun no later, ended within a few steps before
            # it began (or, at coarse steps, in the very sample it began in), and before it ends
            before = [r for r in ended if r.rs_hash != new.rs_hash and r is not new
                      and r.pts[0][0] <= start and r.pts[-1][0] < new.pts[-1][0]
                      and start - max(600.0, 3 * step) <= r.pts[-1][0] <= start + step]
            if not before:
                continue
            old = min(before, key=lambda r: abs(r.pts[-1][1] - level))
            ended.remove(old)
            new.pts = [(t, v) for t, v in old.pts if t < start] + new.pts
            absorbed.add(id(old.series))
            joined.pop(id(old.series), None)
            joined[id(new.series)] = new
            rollovers.append(Rollover(entity, old.series.metric["pod"],
                                      new.series.metric["pod"], old.rs_hash, new.rs_hash, start))
    if not joined:
        return series, []
    out = []
    for s in series:
        if id(s) in joined:
            out.append(s.model_copy(update={
                "values": [(t, repr(v)) for t, v in joined[id(s)].pts]}))
        elif id(s) not in absorbed:
            out.append(s)
    unique = {(r.entity, r.old_pod, r.new_pod): r for r in rollovers}
    return out, sorted(unique.values(), key=lambda r: (r.at, r.entity, r.new_pod))
