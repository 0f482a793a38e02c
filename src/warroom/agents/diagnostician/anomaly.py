"""Anomaly scoring for any series: each against its own history, whatever its name.

Every series in the snapshot (canonical recording rules, raw exporter names, unknown names) is
split at the incident's anchor (shortly before the first firing alert; the last third of the
window when there is no alert) into a baseline and a recent part, and scored by robust scaling
as in BARO (FSE'24): (recent median - baseline median) / spread, where the spread is the larger
of the baseline's MAD and IQR and a floor, so two baseline samples are enough. Counters are
turned into rates first. The series' kind (errors, latency, saturation, traffic, free capacity,
unknown), read from generic words in its name, says which direction is bad. A series that
stopped reporting before the others is an anomaly of its own. The place a series belongs to is
whatever its labels identify: a pod's workload, a service, a database instance, a function, a
table, a queue, a host.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from statistics import median

from warroom.agents.diagnostician.counters import rates
from warroom.agents.diagnostician.excursion import (
    DIRECTED,
    ERROR_FLOOR,
    MIN_Z,
    excursion_of,
    precedent,
    scale_hint_ratio,
    significance,
    spread,
    strength_of,
)
from warroom.agents.diagnostician.index import (
    PLACE_LABELS,
    Entity,
    Index,
    finite_samples,
)
from warroom.agents.diagnostician.labels import snake_case
from warroom.agents.diagnostician.resolution import sampling_step
from warroom.agents.diagnostician.roles import COUNTER_SUFFIXES
from warroom.sensors.models import Series

# generic vocabulary of metric names (any exporter), read in snake case: which way is bad
_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("free", re.compile(r"free|available|remaining|headroom|idle")),
    # a share of requests or checks that succeeded: lower is worse (scored as its complement)
    ("success", re.compile(r"success|availability|apdex|(^|_)succ(_|$)")),
    ("errors", re.compile(r"error|fail|fault|5xx|exception|reject|throttled_requests|denied|"
                          r"dropped|timeout|(^|_)errs?(_|$)")),
    ("latency", re.compile(r"latency|duration|response_?time|wait|_ms\b|millis|seconds(?!_total)"
                           r"|delay|lag|elapsed|time_taken|(^|_)rt(_|$)|oldest|(^|_)age(_|$)"
                           r"|(^|_)p(50|75|90|95|99|999)(_|$)")),
    ("saturation", re.compile(r"cpu|memory|(^|_)mem(_|$)|heap|throttl|util|usage|connections|"
                              r"(^|_)conns?(_|$)|socket|threads?(_|$)|(^|_)fds?(_|$)|"
                              r"file_descriptors|open_files|queue|backlog|swap|disk|storage|"
                              r"load|pressure|inflight|concurren|consumed_capacity|"
                              r"capacity_units|iops|burst|credit")),
    ("traffic", re.compile(r"request|rate|rps|qps|(^|_)tps(_|$)|throughput|invocation|calls|"
                           r"count|ops|bytes|packets|messages|receive|transmit|(^|_)[rt]x(_|$)")),
]
_IGNORED_LABELS = frozenset({"__name__", "namespace", "container", "le", "quantile", "code",
                             "method", "status", "region", "severity", "stat", "unit"})
MIN_ERROR_FLOOR = 0.002  # an alert on a fifth of a percent of failures is as low as it goes
_SWITCHED_OFF = re.compile(r"\.*x{2,}\.+")
_ONE_OFF = re.compile(r"\.*x\.+")


@dataclass(frozen=True)
class Signal:
    """One series scored against its own history."""

    name: str
    entity: Entity
    kind: str  # errors | latency | saturation | traffic | free | other
    base: float
    recent: float
    z: float  # robust z of the change, positive in the bad direction when the kind has one
    score: float  # 0..1 anomaly strength
    onset: datetime | None
    stopped: bool  # stopped reporting before the others
    baseline_points: int
    climbing: bool = False  # a ratio to a limit rising steadily towards it the whole window
    last: float = 0.0  # when its last sample was taken (epoch seconds)
    first: float = 0.0  # when its first sample was taken (epoch seconds)
    step: float = 60.0  # its usual sampling interval (seconds)
    # off its baseline for two samples or more and back within it now; None when a missed
    # scrape beside a one-sample excursion leaves its length unknown
    recovered: bool | None = False
    transient: bool = False  # its strongest evidence is an excursion already over
    jumped: bool = False  # its newest sample is off its band, beyond every baseline sample

    @property
    def ratio(self) -> float:
        return self.recent / self.base if abs(self.base) > 1e-12 else math.inf


@functools.lru_cache(maxsize=4096)
def kind_of(name: str) -> str:
    """Classify a metric name by the generic words in it (names repeat: remembered).

    The name is read in snake case: CloudWatch's and Datadog's CamelCase
    (`TargetResponseTime`) and other separators (`latency-90`, `mem.used`) split into words.
    A share of successes is `success` (see `score_series`).
    """
    words = snake_case(name)
    for kind, pat in _KINDS:
        if pat.search(words):
            return kind
    return "other"


def place_of(ix: Index, s: Series) -> Entity | None:
    """Return the place (namespace, name) a series is about, or None when no label says.

    kube-state-metrics' series (`kube_*`) are the API's state of objects, read by
    kubestate.py, not a measurement of how a place behaves: they have no place here.
    """
    if s.name.startswith("kube_"):
        return None
    m = s.metric
    ns = m.get("namespace", "")
    if m.get("pod"):
        return ix.owner_of_pod(ns, m["pod"], m.get("container", ""))
    if m.get("persistentvolumeclaim"):
        return ix.pvc_owner(ns, m["persistentvolumeclaim"])
    for label in PLACE_LABELS:
        if label == "job" and (node := ix.node_of(m)):
            return ("", node)  # a node's series, whichever exporter's job scraped it
        if label == "job" and (probe := ix.probed_entity(m, ns)) is not None:
            return probe  # a prober's target, not the prober
        if m.get(label):
            value = m[label]
            if label == "instance":
                value = value.split(":")[0]
            if label in ("instance", "host"):
                return (ns, value)
            return ix.workload_of((ns or ix.namespace_of(value) or "", value))
    if node := ix.node_of(m):
        return ("", node)
    rest = sorted(k for k in m if k not in _IGNORED_LABELS and m[k])
    return (ns, m[rest[0]]) if rest else None


def _measured(name: str, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return a series' samples in time order, a counter's as its per-second rates."""
    pts = sorted(pts)
    return rates(pts) if _is_counter(name, pts) else pts


def _is_counter(name: str, pts: list[tuple[float, float]]) -> bool:
    if not name.endswith(COUNTER_SUFFIXES) or len(pts) < 3:
        return False
    return all(b >= a for (_, a), (_, b) in zip(pts, pts[1:], strict=False)) or (
        name.endswith("_total"))


def split_time(ix: Index) -> float | None:
    """Return the anchor splitting baseline from recent: shortly before the first firing alert."""
    firing = [a.starts_at for a in ix.snapshot.alerts if a.status == "firing"]
    starts = firing or [a.starts_at for a in ix.snapshot.alerts]
    return min(starts).timestamp() - 120 if starts else None


def score_series(s: Series, entity: Entity, anchor: float | None, latest: float,
                 parsed: list[tuple[float, float]] | None = None,
                 error_floor: float = ERROR_FLOOR) -> Signal | None:
    """Score one series against its own history; None when there is nothing to compare.

    An error ratio must rise by `error_floor` at least to count (see `alert_error_floor`).
    """
    pts = _measured(s.name, finite_samples(s) if parsed is None else parsed)
    if len(pts) < 2:
        return None
    kind, name = kind_of(s.name), s.name
    if kind == "success":
        pts, kind, name = _failing(pts, name)
    n = len(pts)
    step = sampling_step([[t for t, _ in pts]])
    if anchor is not None:
        cut = sum(1 for t, _ in pts if t < anchor)
        # two baseline samples at least, unless the second was due before the anchor and its
        # scrape was missed: borrowing it from after the anchor would judge the change against
        # itself
        missed = cut == 1 and pts[0][0] + step < anchor and pts[1][0] - pts[0][0] > 1.5 * step
        cut = 1 if n < 3 or missed else max(cut, 2)
        if cut >= n:
            cut = n - 1
    else:
        cut = n - max(1, min(10, n // 3))
    base_vals = [v for _, v in pts[:cut]]
    recent_vals = [v for _, v in pts[cut:]]
    med = median(base_vals)
    hint = max(abs(v) for _, v in pts)
    scale = spread(base_vals, med, kind, hint, error_floor)
    recent = median(recent_vals)
    raw_z = (recent - med) / scale
    sign = -1.0 if kind == "free" else 1.0
    z = raw_z * sign if kind in DIRECTED else abs(raw_z)
    stopped = latest - pts[-1][0] > max(180.0, 2.5 * step)
    strength = strength_of(z)
    if strength > 0:
        # a level the baseline already reached often is its usual noise, however few its
        # samples and however flat its median (a quantile over a handful of requests)
        direction = sign if kind in DIRECTED else (1.0 if raw_z > 0 else -1.0)
        level = direction * (recent - med)
        hits = sum(1 for v in recent_vals if direction * (v - med) >= level)
        strength *= significance(precedent(base_vals, med, direction, level, hits,
                                           len(recent_vals)))
    if kind == "errors" and scale_hint_ratio(hint) and recent - med < error_floor:
        strength = 0.0  # a fraction of a percent more failures is noise
    if kind == "latency" and med > 0 and recent < 1.3 * med:
        strength = 0.0
    if kind == "saturation" and 0 <= hint <= 1.0 and recent >= 0.95 and recent >= med:
        # a ratio to a limit that reached it is saturated whatever its history
        strength = max(strength, min(0.9, 0.5 + (recent - 0.95) * 8))
    climbing = _climbs(pts) if kind == "saturation" and 0 <= hint <= 1.0 else False
    if climbing:
        # a leak that began before the window has no flat baseline: its shape gives it away
        strength = max(strength, min(0.85, 0.4 + (pts[-1][1] - pts[0][1])))
    if kind == "traffic":
        # demand moves with everything upstream: alone it is weak evidence of a cause
        strength *= 0.15 if 0.5 < (recent + 1e-9) / (med + 1e-9) < 2.0 else 0.3
    onset = None
    recovered: bool | None = False
    exc = excursion_of(pts, kind, hint, anchor, cut, base_vals, med, scale, error_floor)
    if exc is not None and exc.strength > strength and not stopped:
        # the strongest evidence is an excursion, maybe over before the alert: a root cause's
        # trouble starts first and may have recovered by the time its callers alert
        out = [exc.direction * (v - exc.base) > MIN_Z * exc.scale for _, v in pts]
        return Signal(name=name, entity=entity, kind=kind, base=exc.base, recent=exc.level,
                      z=exc.z, score=exc.strength, onset=exc.onset, stopped=False,
                      baseline_points=exc.baseline_points, climbing=climbing, last=pts[-1][0],
                      first=pts[0][0], step=step, recovered=_switched(out, pts, cut, step),
                      transient=exc.over)
    if strength > 0:
        direction = 1 if raw_z > 0 else -1
        out = [direction * (v - med) > MIN_Z * scale for _, v in pts]
        for i in range(n):
            tail = out[i:]
            if out[i] and sum(tail) >= 0.5 * len(tail):
                onset = datetime.fromtimestamp(pts[i][0], tz=UTC)
                break
        recovered = False if stopped else _switched(out, pts, cut, step)
    newest = sign * (pts[-1][1] - med)
    jumped = (kind in DIRECTED and not stopped and newest > MIN_Z * scale
              and all(sign * (v - med) < newest for v in base_vals))
    return Signal(name=name, entity=entity, kind=kind, base=med, recent=recent, z=z,
                  score=strength, onset=onset, stopped=stopped, baseline_points=cut,
                  climbing=climbing, last=pts[-1][0], first=pts[0][0], step=step,
                  recovered=recovered, jumped=jumped)


def _failing(pts: list[tuple[float, float]], name: str
             ) -> tuple[list[tuple[float, float]], str, str]:
    """Turn a share of successes (0..1, or a percentage) into the share that failed, an error
    ratio (`1 - probe_success`); a count or rate of successes is traffic."""
    vals = [v for _, v in pts]
    if name.endswith(COUNTER_SUFFIXES) or min(vals) < 0 or max(vals) > 100:
        return pts, "traffic", name
    full = 1.0 if max(vals) <= 1.0 else 100.0
    return [(t, (full - v) / full) for t, v in pts], "errors", f"1 - {name}"


def _switched(out: list[bool], pts: list[tuple[float, float]], cut: int, step: float
              ) -> bool | None:
    """Tell whether the flags after the anchor show one unbroken stretch of two samples or
    more off the baseline, then back inside its band to the newest sample (noise flickers).

    A one-sample stretch beside a missed scrape (a gap over one and a half steps, the sample
    before the anchor included) may have lasted longer: None, unknown.
    """
    marks = []
    for i in range(cut, len(out)):
        if i and pts[i][0] - pts[i - 1][0] > 1.5 * step:
            marks.append("?")
        marks.append("x" if out[i] else ".")
    text = "".join(marks)
    if _SWITCHED_OFF.fullmatch(text.replace("?", "")):
        return True
    if _ONE_OFF.fullmatch(text.replace("?", "")) and ("?x" in text or "x?" in text):
        return None
    return False


def _climbs(pts: list[tuple[float, float]]) -> bool:
    """Tell whether a 0..1 ratio rose steadily over the whole window to near its limit."""
    vals = [v for _, v in pts]
    if len(vals) < 4 or vals[-1] < 0.85 or vals[-1] - vals[0] < 0.15:
        return False
    ups = sum(b > a for a, b in zip(vals, vals[1:], strict=False))
    if ups < 0.8 * (len(vals) - 1):
        return False
    # steady, not a step: a straight line fits, and the first half already rose
    n = len(vals)
    mx, my = (n - 1) / 2, sum(vals) / n
    sxy = sum((i - mx) * (v - my) for i, v in enumerate(vals))
    sxx = sum((i - mx) ** 2 for i in range(n))
    syy = sum((v - my) ** 2 for v in vals)
    r2 = sxy * sxy / (sxx * syy) if sxx and syy else 0.0
    return r2 >= 0.95 and vals[n // 2] - vals[0] >= 0.3 * (vals[-1] - vals[0])


def alert_error_floor(ix: Index, alerts: list[Entity]) -> float:
    """Return the least rise of an error ratio that counts as anomalous in this incident.

    Two points of failures more is the floor. An alert that fired when its own place's error
    ratio had risen by less, but above every sample of its baseline and to twice its median
    at least, says that this much failure matters here (an availability objective of 99.9%):
    the floor is then that rise, and not under MIN_ERROR_FLOOR.
    """
    firing = [a.starts_at.timestamp() for a in ix.snapshot.alerts if a.status == "firing"]
    anchor = split_time(ix)
    if not firing or anchor is None:
        return ERROR_FLOOR
    fired = min(firing)
    floor = ERROR_FLOOR
    for s in ix.snapshot.series:
        if kind_of(s.name) != "errors" or place_of(ix, s) not in alerts:
            continue
        pts = sorted(ix.points(s))
        base = [v for t, v in pts if t < anchor]
        at = [v for t, v in pts if t >= fired - 60]
        if len(base) < 2 or not at or not all(0 <= v <= 1 for _, v in pts):
            continue
        rise = at[0] - median(base)
        if at[0] > max(base) and at[0] >= 2 * median(base) and rise > 0:
            floor = min(floor, max(rise, MIN_ERROR_FLOOR))
    return floor


def score_all(ix: Index, error_floor: float = ERROR_FLOOR) -> list[Signal]:
    """Score every series of the snapshot that a label ties to a place."""
    latest = max((float(s.values[-1][0]) for s in ix.snapshot.series if s.values), default=0.0)
    anchor = split_time(ix)
    out = []
    demand: dict[Entity, list[list[tuple[float, float]]]] = defaultdict(list)
    for s in ix.snapshot.series:
        ent = place_of(ix, s)
        if ent is None or not ent[1]:
            continue
        if kind_of(s.name) == "traffic":  # requests per second, a counter's too
            demand[ent].append(_measured(s.name, ix.points(s)))
        sig = score_series(s, ent, anchor, latest, ix.points(s), error_floor)
        if sig is not None:
            out.append(sig)
    return [replace(sig, stopped=False) if sig.stopped and sig.kind in ("latency", "errors")
            and _idle_since(demand.get(sig.entity, []), sig.last) else sig for sig in out]


def _idle_since(demand: list[list[tuple[float, float]]], last: float) -> bool:
    """Tell whether a place's request rate says it served nothing after `last`, as it often
    did before: a latency or error ratio is computed over requests, and with none it has no
    sample (no one called a service that is idle at times; it did not stop reporting). A
    place whose demand never fell to nothing before it went silent did stop."""
    for pts in demand:
        after = [v for t, v in pts if t > last]
        before = [v for t, v in pts if t <= last]
        if after and all(v <= 0 for v in after) and any(v <= 0 for v in before):
            return True
    return False


def describe(sig: Signal) -> str:
    """Say in one line how a series moved."""
    where = f"{sig.entity[0]}/{sig.entity[1]}" if sig.entity[0] else sig.entity[1]
    if sig.stopped:
        return f"{where}: {sig.name} stopped reporting"
    ratio = "" if math.isinf(sig.ratio) else f", x{sig.ratio:.1f}"
    when = f" since {sig.onset:%H:%M}Z" if sig.onset else ""
    return (f"{where}: {sig.name} {_fmt(sig.base)} -> {_fmt(sig.recent)}{ratio}{when} "
            f"(robust z {sig.z:.1f} over {sig.baseline_points} baseline samples)")


def _fmt(v: float) -> str:
    return f"{v:.3g}"
