"""Change correlation: a deploy or config change on a troubled workload just before the onset.

A change only counts on a workload that shows trouble of its own; an unrelated recent deploy
elsewhere is a red herring and yields nothing.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.objects import meta, parse_time
from warroom.sensors.models import Change

BEFORE = timedelta(minutes=60)
AFTER = timedelta(minutes=5)
DEPLOY_UNOWNED = 0.3  # a deploy at a place in trouble that no object or log line explains
# a description that names new code (an image, tag, version or commit) rather than settings only
_NEW_CODE = re.compile(r"\bimage\b|\bversion\b|\btag\b|\bcommit\b|:\S+\s*->", re.I)


def _parse_target(target: str) -> tuple[str, str, str]:
    parts = target.strip().split("/")
    if len(parts) == 3:
        return parts[0], parts[1].lower(), parts[2]
    if len(parts) == 2:
        return parts[0], "", parts[1]
    return "", "", target


def change_entity(ix: Index, change: Change) -> tuple[Entity, str]:
    """Return the workload a change touched and what it touched (workload, configmap, ...)."""
    ns, kind, name = _parse_target(change.target)
    if kind in ("configmap", "secret"):
        for (wns, wname) in ix.workloads:
            if wns == ns and (name == wname or name.startswith(wname + "-")):
                return (wns, wname), kind
        # no workload objects: the place whose series or service carries the name it starts
        # with (`checkout-config` configures `checkout`), the longest such name
        known = sorted((svc for svc, spaces in ix.service_ns.items()
                        if ns in spaces and (name == svc or name.startswith(svc + "-"))),
                       key=len, reverse=True)
        return ((ns, known[0]) if known else (ns, name)), kind
    if kind == "node":
        return ("", name), "node"
    return (ns, name), kind or "workload"


def change_findings(ix: Index, changes: list[Change], onsets: dict[Entity, datetime],
                    troubled: dict[Entity, bool], default_onset: datetime,
                    broke_first: set[Entity] | None = None,
                    moved: dict[Entity, float] | None = None) -> list[Finding]:
    """Correlate changes with onsets; `troubled` maps entity -> has its own specific trouble.

    `broke_first` are places whose own series broke first, before anything else moved: a
    configuration change there counts as the cause even with no object or log line to say so
    (settings act at once on the place that reads them). A deploy still needs its own trouble:
    deploys are frequent, and a failing caller of an unobserved dependency is no proof.
    `moved` is how far each anomalous place's own signals moved (0..1): a deploy at a place
    with no object or log line to say what broke counts no more than its own signals moved
    (a deploy says when, not that something broke).
    """
    out: list[Finding] = []
    for ch in changes:
        ent, what = change_entity(ix, ch)
        onset = onsets.get(ent, default_onset)
        if not (onset - BEFORE <= ch.time <= onset + AFTER):
            continue
        minutes = (onset - ch.time).total_seconds() / 60
        when = (f"{minutes:.0f} min before the onset" if minutes >= 0
                else f"{-minutes:.0f} min after the onset")
        text = f"Change {ch.kind} {ch.target} at {ch.time:%H:%M:%SZ} ({when}): {ch.description}"
        desc = ch.description.lower()
        if ent[1] in ("coredns", "kube-dns") and ch.kind in ("config", "deploy"):
            out.append(Finding(ent[0], ent[1], "dns_failure", 0.4, text, onset=ch.time,
                               source="changes"))
            continue
        if ent not in troubled:
            continue
        own = troubled[ent]
        if ch.kind == "config" or what in ("configmap", "secret"):
            own = own or ent in (broke_first or set())
            out.append(Finding(ent[0], ent[1], "config_error", 0.55 if own else 0.3, text,
                               onset=ch.time, generic=not own, source="changes"))
        elif ch.kind == "deploy":
            lowered = lowered_limit(desc)
            if lowered:
                # a rollout that cut a limit: what runs out is named by the limit it cut
                out.append(Finding(ent[0], ent[1], lowered, 0.55 if own else 0.4, text,
                                   onset=ch.time, source="changes"))
            probes_only = "probe" in desc and not _NEW_CODE.search(desc)
            if "probe" in desc:
                # a rollout that changed nothing but its probes cannot have broken the code
                out.append(Finding(ent[0], ent[1], "probe_failure", 0.6 if probes_only else 0.45,
                                   text, onset=ch.time, source="changes"))
            unowned = min(DEPLOY_UNOWNED, (moved or {}).get(ent, DEPLOY_UNOWNED))
            out.append(Finding(ent[0], ent[1], "bad_deploy",
                               0.25 if probes_only else 0.6 if own else unowned, text,
                               onset=ch.time, generic=not own or probes_only, source="changes"))
        elif ch.kind == "scale":
            stuck = stuck_scale_up(ix, ent, ch)
            out.append(Finding(ent[0], ent[1], "unschedulable", 0.55 if stuck else 0.2,
                               f"{text}; {stuck}" if stuck else text, onset=ch.time,
                               source="changes"))
        elif ch.kind == "feature_flag":
            out.append(Finding(ent[0], ent[1], "application_error", 0.15, text, onset=ch.time,
                               generic=True, source="changes"))
    return out


_REPLICAS = re.compile(r"(\d+)\s*->\s*(\d+)")
STARTUP = timedelta(minutes=5)  # long enough for a scheduled pod (and a GitOps sync) to start


def stuck_scale_up(ix: Index, ent: Entity, change: Change) -> str:
    """Say how a scale-up of `ent` never ran its new pods, or return "".

    A change that raised the replicas (`replicas 2 -> 5`) and, minutes later, no pod of the
    workload begun since while fewer than the new count still report: the new pods were never
    scheduled (or never started), which is what a scale-up into a full cluster looks like
    from the metrics alone.
    """
    m = _REPLICAS.search(change.description)
    if m is None or int(m[2]) <= int(m[1]):
        return ""
    spans: dict[str, tuple[float, float]] = {}
    for s in ix.snapshot.series:
        pod = s.metric.get("pod", "")
        pts = ix.points(s) if pod else []
        if not pts or ix.owner_of_pod(s.metric.get("namespace", ""), pod) != ent:
            continue
        first, last = spans.get(pod, (math.inf, -math.inf))
        spans[pod] = (min(first, min(t for t, _ in pts)), max(last, max(t for t, _ in pts)))
    if not spans:
        return ""  # none of its pods observed: nothing says how many run
    latest = max(last for _, last in spans.values())
    at = change.time.timestamp()
    if latest - at < STARTUP.total_seconds():
        return ""
    if any(first > at for first, _ in spans.values()):
        return ""  # a new pod reports: the scale-up ran
    running = sum(1 for _, last in spans.values() if last >= latest - 180)
    if running >= int(m[2]):
        return ""
    return (f"{(latest - at) / 60:.0f} min later still {running} of {m[2]} pods report and "
            f"none is new: the new pods never ran")


_LIMIT = re.compile(r"limits?\.?(memory|cpu)\S*\s+([\d.]+)\s*([kmgt]i?|m)?\s*->\s*([\d.]+)"
                    r"\s*([kmgt]i?|m)?", re.I)
_UNITS = {"": 1.0, "m": 1e-3, "k": 1e3, "ki": 1024.0, "mi": 1024.0 ** 2, "gi": 1024.0 ** 3,
          "ti": 1024.0 ** 4, "g": 1e9, "t": 1e12}


def lowered_limit(desc: str) -> str:
    """Return the fault a change description's lowered resource limit points at, or ""."""
    for m in _LIMIT.finditer(desc):
        resource, a, ua, b, ub = m.groups()
        try:
            before = float(a) * _UNITS.get((ua or "").lower(), 1.0)
            after = float(b) * _UNITS.get((ub or "").lower(), 1.0)
        except ValueError:
            continue
        if after < before:
            return "memory_limit_too_low" if resource.lower() == "memory" else "cpu_saturation"
    return ""


def recent_deploy(ix: Index, changes: list[Change], ent: Entity, onset: datetime) -> bool:
    """Tell whether a deploy or config change touched `ent` in the window before `onset`."""
    for ch in changes:
        e, _ = change_entity(ix, ch)
        if e == ent and ch.kind in ("deploy", "config") and (
                onset - BEFORE <= ch.time <= onset + AFTER):
            return True
    return False


def _image(rs: dict[str, Any]) -> str:
    spec = ((rs.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or [{}]
    return str(containers[0].get("image", "?"))


def rollouts_from_replicasets(ix: Index, changes: list[Change], now: datetime,
                              horizon: timedelta = timedelta(hours=6)) -> list[Change]:
    """Derive recent rollouts from ReplicaSet revisions that the change feed does not list.

    A Deployment's ReplicaSets are ordered by their revision annotation, else by when each was
    created; a ReplicaSet that dates neither is dated by its oldest pod, but only while an
    older one still has pods too (a rollout under way: a lone ReplicaSet's pods are new
    whenever a node drops them, which is no rollout).
    """
    # per Deployment: (revision or -1, created, its oldest pod's creation, ReplicaSet)
    by_owner: dict[Entity, list[tuple[int, datetime | None, datetime | None, dict[str, Any]]]]
    by_owner = {}
    born: dict[Entity, datetime] = {}  # (namespace, ReplicaSet) -> its oldest pod's creation
    for (ns, _), pod in ix.pods.items():
        created = parse_time(meta(pod).get("creationTimestamp"))
        for ref in meta(pod).get("ownerReferences") or []:
            if ref.get("kind") == "ReplicaSet" and created is not None:
                key = (ns, str(ref.get("name", "")))
                born[key] = min(born.get(key, created), created)
    for rs in ix.by_kind["ReplicaSet"]:
        m = meta(rs)
        key = (m.get("namespace", ""), m.get("name", ""))
        owner = ix.rs_owner.get(key)
        raw = str((m.get("annotations") or {}).get("deployment.kubernetes.io/revision", ""))
        if owner is not None:
            by_owner.setdefault((key[0], owner[1]), []).append(
                (int(raw) if raw.isdigit() else -1, parse_time(m.get("creationTimestamp")),
                 born.get(key), rs))
    out: list[Change] = []
    for (ns, name), sets in by_owner.items():
        if len(sets) < 2:
            continue
        # a rollout under way (two of them with pods): pods date what nothing else does
        under_way = sum(first is not None for _, _, first, _ in sets) >= 2
        dated = [(rev, created or (first if under_way else None), rs)
                 for rev, created, first, rs in sets]
        if all(rev >= 0 for rev, _, _ in dated):
            dated.sort(key=lambda x: x[0])
        elif all(created is not None for _, created, _ in dated):
            dated.sort(key=lambda x: x[1] or now)
        else:
            continue
        _, created, rs = dated[-1]
        if created is None or not (now - horizon <= created <= now):
            continue
        target = f"{ns}/deployment/{name}"
        if any(c.target == target and abs((c.time - created).total_seconds()) < 900
               for c in changes):
            continue
        rev = (meta(rs).get("annotations") or {}).get("deployment.kubernetes.io/revision")
        images = (_image(dated[-2][2]), _image(rs))
        out.append(Change(time=created, kind="deploy", target=target, description=(
            f"ReplicaSet {meta(rs).get('name')}{f' (revision {rev})' if rev else ''} "
            f"{'created' if meta(rs).get('creationTimestamp') else 'started its first pod'}"
            f"{': ' + ' -> '.join(images) if images != ('?', '?') else ''}")))
    return out


def rollouts_from_pod_series(ix: Index, known: list[Change]) -> list[Change]:
    """Read rollouts from pods a new ReplicaSet replaced in the metrics (`Index.rollovers`).

    One change per workload and new template hash, at its first pod's first sample. A rollout
    already known within ten minutes (the feed, the ReplicaSets, a generation bump) is not read
    twice.
    """
    out: list[Change] = []
    seen: set[tuple[Entity, str]] = set()
    for r in ix.rollovers:  # in time order
        (ns, name), at = r.entity, datetime.fromtimestamp(r.at, tz=UTC)
        if (r.entity, r.new_hash) in seen or any(
                change_entity(ix, c)[0] == r.entity and c.kind in ("deploy", "config")
                and abs((c.time - at).total_seconds()) <= 600 for c in known):
            continue
        seen.add((r.entity, r.new_hash))
        out.append(Change(time=at, kind="deploy", target=f"{ns}/deployment/{name}",
                          description=f"pods of a new ReplicaSet ({r.new_hash}) replaced those "
                                      f"of {r.old_hash}, e.g. {r.old_pod} -> {r.new_pod} "
                                      "(pod names in the metrics)"))
    return out
