"""Metric anomaly scoring: each series against its own baseline (robust z-score and onset).

The recent window (the last third, at most ten samples) is compared with the earlier samples by
median and MAD; the onset is the first sample from which the series stays outside the baseline
band. Saturation series (ratios to a limit) are also judged by their absolute level.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from statistics import median

from warroom.agents.diagnostician import roles
from warroom.agents.diagnostician.anomaly import place_of, precedent, significance
from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index, finite_samples
from warroom.sensors.models import Series


@dataclass(frozen=True)
class Stat:
    """How one series behaves now compared with its own past."""

    name: str
    entity: Entity
    pod: str
    base: float
    recent: float
    last: float
    z: float
    onset: datetime | None
    slope_rise: float  # fitted rise over the whole window
    r2: float
    early_rise: float  # fitted rise over the first half (a leak climbs from the start)
    resets: int  # sudden drops (a restarted container)
    tail_rise: float  # fitted rise over the longest stretch between drops
    tail_r2: float
    tail_len: int
    peak: float
    ended_early: bool  # the series stopped before the others (a vanished target)
    points: int
    ramp_rise: float = 0.0  # fitted rise from the onset on (a leak that began mid-window)
    ramp_r2: float = 0.0
    ramp_len: int = 0
    fresh: float = 0.0  # median of the newest three samples (a level reached minutes ago)
    significance: float = 1.0  # 0..1: how rare the recent level is given the baseline's own
    fresh_z: float = 0.0  # robust z of `fresh`

    @property
    def ratio(self) -> float:
        return self.recent / self.base if self.base > 1e-12 else math.inf


_SHAPED = frozenset({roles.MEMORY, "pvc:usage:ratio", roles.NODE_FILESYSTEM})




def _fit(values: list[float]) -> tuple[float, float]:
    """Return (rise over the window, r²) of a least-squares line."""
    n = len(values)
    if n < 3:
        return 0.0, 0.0
    mx, my = (n - 1) / 2, sum(values) / n
    sxx = sum((i - mx) ** 2 for i in range(n))
    sxy = sum((i - mx) * (v - my) for i, v in enumerate(values))
    syy = sum((v - my) ** 2 for v in values)
    slope = sxy / sxx if sxx else 0.0
    r2 = (sxy * sxy) / (sxx * syy) if sxx and syy else 0.0
    return slope * (n - 1), r2


MIN_POINTS = 6  # fewer samples are too few to judge a series against its own baseline
SILENT_AFTER = 180.0  # seconds behind the newest sample after which a series has stopped


def sustained_from(out: list[bool], share: float = 0.7) -> int | None:
    """Return the sample from which a series stays outside its band (`out` flags each sample):
    the first flagged sample after the change-point of the flags' CUSUM (the split with the
    most flags missing before it), provided `share` of the samples from it on are flagged.
    Flags scattered through the baseline (a quantile jumping between histogram buckets) are
    its noise: the change is where they stop being occasional."""
    flagged = sum(out)
    if not flagged:
        return None
    p = flagged / len(out)
    split, deficit, seen = 0, 0.0, 0
    for i, flag in enumerate(out):
        if i * p - seen > deficit:
            split, deficit = i, i * p - seen
        seen += flag
    for i in range(split, len(out)):
        if out[i] and sum(out[i:]) >= share * (len(out) - i):
            return i
    return None


def series_stat(series: Series, entity: Entity, pod: str, latest: float,
                pts: list[tuple[float, float]] | None = None, name: str = "") -> Stat | None:
    """Score one series against its own baseline; None when too short to judge. `name` is the
    role it plays (`Index.role`), its own name by default."""
    pts = finite_samples(series) if pts is None else pts
    name = name or series.name
    if len(pts) < MIN_POINTS:
        return None
    vals = [v for _, v in pts]
    w = max(3, min(10, len(vals) // 3))
    base_vals, recent_vals = vals[:-w], vals[-w:]
    base = median(base_vals)
    mad = median(abs(v - base) for v in base_vals) * 1.4826
    scale = max(mad, abs(base) * 0.05, 1e-6)
    recent = median(recent_vals)
    if name == roles.REQUESTS:
        # demand still building at the snapshot: the newest samples say more about now than
        # the median of the recent window, which lags a surge that began minutes ago
        recent = max(recent, median(vals[-3:]))
    z = (recent - base) / scale
    sign = 1.0 if z >= 0 else -1.0
    level = sign * (recent - base)
    hits = sum(1 for v in recent_vals if sign * (v - base) >= level)
    usual = significance(precedent(base_vals, base, sign, level, hits, len(recent_vals)))
    onset = None
    onset_at = len(vals)
    if abs(z) >= 3:
        sign = 1 if z > 0 else -1
        at = sustained_from([sign * (v - base) > 3 * scale for v in vals])
        if at is not None:
            onset = datetime.fromtimestamp(pts[at][0], tz=UTC)
            onset_at = at
    rise = r2 = early = tail_rise = tail_r2 = ramp_rise = ramp_r2 = 0.0
    ramp_len = 0
    drops: list[int] = []
    segment = vals
    if name in _SHAPED:  # growth shapes only matter where a leak can show
        rise, r2 = _fit(vals)
        early, _ = _fit(vals[: len(vals) // 2])
        drops = [i for i in range(1, len(vals))
                 if vals[i] < vals[i - 1] - max(0.2, abs(base) * 0.3)]
        cuts = [0, *drops, len(vals)]
        segment = max((vals[a:b] for a, b in zip(cuts, cuts[1:], strict=False)), key=len)
        tail_rise, tail_r2 = _fit(segment)
        if not drops:  # from the last baseline sample on: a ramp climbs, a step stays flat
            ramp = vals[max(0, onset_at - 1):]
            ramp_rise, ramp_r2 = _fit(ramp)
            ramp_len = len(ramp)
    return Stat(name=name, entity=entity, pod=pod, base=base, recent=recent,
                last=vals[-1], z=z, onset=onset, slope_rise=rise, r2=r2, early_rise=early,
                resets=len(drops), tail_rise=tail_rise, tail_r2=tail_r2, tail_len=len(segment),
                peak=max(vals),
                ended_early=latest - pts[-1][0] > SILENT_AFTER, points=len(vals),
                ramp_rise=ramp_rise, ramp_r2=ramp_r2, ramp_len=ramp_len,
                fresh=median(vals[-3:]), significance=usual,
                fresh_z=(median(vals[-3:]) - base) / scale)


def compute_stats(ix: Index) -> list[Stat]:
    """Score every series of the snapshot, attributing it to a workload, node or host."""
    latest = 0.0
    for s in ix.snapshot.series:
        if s.values:
            latest = max(latest, float(s.values[-1][0]))
    stats = []
    for s in ix.snapshot.series:
        m = s.metric
        pod = m.get("pod", "")
        # placed as the anomaly method places it, except that a node's series stays the
        # node's whatever workload or scrape target it also names
        entity = ("", m["node"]) if m.get("node") and not (
            pod or m.get("persistentvolumeclaim") or m.get("service")) else place_of(ix, s)
        if entity is None:
            continue
        st = series_stat(s, entity, pod, latest, ix.points(s), ix.role(s))
        if st is not None:
            stats.append(st)
    return stats


def pct(v: float) -> str:
    """Write a share as a whole per cent."""
    return f"{v * 100:.0f}%"


def _where(st: Stat) -> str:
    ns, name = st.entity
    return f"pod {ns}/{st.pod}" if st.pod else (f"{ns}/{name}" if ns else name)


def metric_findings(stats: list[Stat]) -> list[Finding]:
    """Turn anomalous series into findings about faults (saturation, growth, expiry...)."""
    out: list[Finding] = []
    by_entity: dict[Entity, dict[str, list[Stat]]] = {}
    for st in stats:
        by_entity.setdefault(st.entity, {}).setdefault(st.name, []).append(st)

    def add(st: Stat, fault: str, weight: float, text: str, generic: bool = False) -> None:
        out.append(Finding(st.entity[0], st.entity[1], fault, weight, text, generic=generic,
                           onset=st.onset, source="metrics"))

    rtt = _tails(stats, "pod:network_latency_seconds:")
    for entity, named in by_entity.items():
        for st in named.get(roles.MEMORY, []):
            gradual = st.early_rise >= 0.25 * st.slope_rise * 0.5
            if st.last >= 0.85 and st.slope_rise >= 0.25 and st.r2 >= 0.7 and gradual:
                add(st, "memory_leak", 0.7,
                    f"{_where(st)}: memory working set rose steadily by {pct(st.slope_rise)} "
                    f"of its limit over the window to {pct(st.last)} (r²={st.r2:.2f})")
            elif (st.last >= 0.85 and st.ramp_len >= 8 and st.ramp_rise >= 0.25
                  and st.ramp_r2 >= 0.9):
                add(st, "memory_leak", 0.65,
                    f"{_where(st)}: memory working set climbs steadily since "
                    f"{st.onset:%H:%M}Z, +{pct(st.ramp_rise)} of its limit over "
                    f"{st.ramp_len} samples to {pct(st.last)} (r²={st.ramp_r2:.2f})"
                    if st.onset else
                    f"{_where(st)}: memory working set climbs steadily to {pct(st.last)}")
            elif (st.resets and st.tail_len >= 8 and st.tail_rise >= 0.2 and st.tail_r2 >= 0.8
                  and st.peak >= 0.9):
                add(st, "memory_leak", 0.65,
                    f"{_where(st)}: memory climbs steadily again after each of {st.resets} "
                    f"restart(s) (sawtooth), +{pct(st.tail_rise)} of its limit between restarts, "
                    f"peaking at {pct(st.peak)}")
            elif st.recent >= 0.9 and st.z >= 3:
                add(st, "memory_limit_too_low", 0.3,
                    f"{_where(st)}: memory working set at {pct(st.recent)} of its limit "
                    f"(baseline {pct(st.base)})")
        cpu_all = named.get(roles.CPU, [])
        # at its limit over the newest samples is saturated now, however short the window
        cpu_hot = [st for st in cpu_all if (st.recent >= 0.85 and st.z >= 3)
                   or (st.fresh >= 0.85 and st.fresh_z >= 3)]
        cpu_jump = [st for st in cpu_all if st.ratio >= 3 and st.z >= 6 and st.recent >= 0.15]
        traffic = [st for st in named.get(roles.REQUESTS, []) if st.ratio >= 1.5]
        throttled = [st for st in named.get(roles.THROTTLED, [])
                     if st.recent >= 0.25 and st.z >= 3]
        # a surge is more demand than the baseline had: a place with no demand in its baseline
        # (sparse traffic whose median is zero) has no rate to be a multiple of
        surge = [st for st in traffic if st.ratio >= 1.8 and st.z >= 4 and st.base > 0]
        if cpu_hot and surge:
            st, t = max(cpu_hot, key=lambda s: max(s.recent, s.fresh)), surge[0]
            add(t, "traffic_surge", 0.65,
                f"{_where(t)}: request rate {t.recent:.0f}/s vs baseline {t.base:.0f}/s "
                f"(x{t.ratio:.1f}) drives CPU to {pct(max(st.recent, st.fresh))} of its limit on"
                f" "
                f"{len(cpu_hot)} pod(s)")
            add(st, "cpu_saturation", 0.3,
                f"{_where(st)}: CPU at {pct(max(st.recent, st.fresh))} of its limit, with "
                f"traffic x{t.ratio:.1f}")
        elif cpu_hot:
            st = max(cpu_hot, key=lambda s: max(s.recent, s.fresh))
            text = (f"{_where(st)}: CPU at {pct(max(st.recent, st.fresh))} of its limit (baseline "
                    f"{pct(st.base)}), {len(cpu_hot)} pod(s) saturated")
            if throttled:
                text += f"; throttled {pct(max(t.recent for t in throttled))} of CFS periods"
            share = len(cpu_hot) / max(1, len(named.get(roles.CPU, [])))
            add(st, "cpu_saturation", 0.35 + 0.3 * share + (0.1 if throttled else 0.0), text)
        elif cpu_jump and len(cpu_jump) * 2 >= len(cpu_all):
            st = max(cpu_jump, key=lambda s: s.ratio)
            flat = "" if traffic else ", request rate flat"
            add(st, "cpu_saturation", 0.35 if traffic else 0.55,
                f"{_where(st)}: CPU usage x{st.ratio:.1f} its baseline ({pct(st.base)} -> "
                f"{pct(st.recent)} of its limit) on {len(cpu_jump)} of {len(cpu_all)} pods"
                f"{flat}")
        for st in named.get(roles.REQUESTS, []):
            if st in surge and not cpu_hot:
                add(st, "traffic_surge", 0.15,
                    f"{_where(st)}: request rate {st.recent:.0f}/s vs baseline {st.base:.0f}/s "
                    f"(x{st.ratio:.1f})")
        for st in [st for n, sts in named.items() if (entity, n) in rtt for st in sts]:
            if st.ratio >= 5 and st.z >= 4 and st.recent >= 0.03:
                add(st, "network_latency", 0.7,
                    f"{_where(st)}: network round trip p{tail_quantile(st.name, '')} "
                    f"{st.recent * 1000:.0f} ms vs baseline {st.base * 1000:.1f} ms")
                break
        for st in named.get(roles.DB_CONNECTIONS, []):
            if st.recent >= 0.85 and st.z >= 3:
                add(st, "database_saturation", 0.75,
                    f"database {_where(st)}: {pct(st.recent)} of max connections in use "
                    f"(baseline {pct(st.base)})")
        for st in named.get(roles.DB_CPU, []):
            if st.recent >= 0.8 and st.z >= 3:
                add(st, "database_saturation", 0.4,
                    f"database {_where(st)}: CPU {pct(st.recent)} (baseline {pct(st.base)})")
        for st in named.get(roles.DB_LAG, []):
            if st.z >= 5 and st.recent >= 5:
                add(st, "database_saturation", 0.3,
                    f"database {_where(st)}: replication lag {st.recent:.0f}s")
        for name in ("pvc:usage:ratio", roles.DB_STORAGE):
            for st in named.get(name, []):
                full = max(st.recent, st.fresh)  # a volume that filled minutes ago is full now
                if full >= 0.9:
                    what = "volume" if name.startswith("pvc") else "database storage"
                    add(st, "disk_pressure", 0.75 if full >= 0.95 else 0.5,
                        f"{_where(st)}: {what} {pct(full)} full (was {pct(st.base)})")
        for st in named.get(roles.NODE_FILESYSTEM, []):
            if st.recent >= 0.9 and not st.ended_early:
                add(st, "disk_pressure", 0.5,
                    f"node {st.entity[1]}: filesystem {pct(st.recent)} full")
        ended = [st for n, sts in named.items() if n.startswith("node:") for st in sts
                 if st.ended_early]
        if ended:
            add(ended[0], "node_failure", 0.6 if len(ended) >= 2 else 0.4,
                f"node {entity[1]}: node metrics stopped reporting "
                f"({', '.join(sorted({s.name for s in ended}))})")
        for st in named.get(roles.CERT_EXPIRY, []):
            if st.last <= 0:
                add(st, "certificate_expired", 0.8,
                    f"{_where(st)}: served TLS certificate expired {-st.last / 60:.0f} min ago "
                    "(probe:ssl_expiry_seconds <= 0)")
            elif st.last < 3 * 86400:
                add(st, "certificate_expired", 0.3,
                    f"{_where(st)}: TLS certificate expires in {st.last / 3600:.1f} h")
    return out


USUAL = 0.5  # significance below which a golden signal's level is the baseline's usual noise
_TAIL = re.compile(r":p(9\d)_")  # a tail quantile: p90, p95, p99 (SCENARIOS.md allows each)


def tail_quantile(name: str, prefix: str) -> int:
    """Return the tail quantile a canonical series measures (99 for `prefix...:p99_1m`), or 0
    for another series or another quantile (a median says little of a tail)."""
    m = _TAIL.search(name) if name.startswith(prefix) else None
    return int(m.group(1)) if m else 0


def _tails(stats: list[Stat], prefix: str) -> set[tuple[Entity, str]]:
    """Return, per entity, the series of the highest tail quantile it reports under `prefix`:
    p99 where there is one, else p95 or p90."""
    best: dict[Entity, tuple[int, str]] = {}
    for st in stats:
        q = tail_quantile(st.name, prefix)
        if q and q > best.get(st.entity, (0, ""))[0]:
            best[st.entity] = (q, st.name)
    return {(ent, name) for ent, (_, name) in best.items()}


def symptoms(stats: list[Stat]) -> dict[Entity, list[str]]:
    """Return, per entity, its anomalous golden signals (errors up, latency up) as text."""
    out: dict[Entity, list[str]] = {}
    tails = _tails(stats, "service:latency_seconds:")
    for st in stats:
        if st.significance < USUAL:
            continue  # the baseline reached this level often: its usual noise
        if st.name == roles.ERRORS and st.z >= 3 and st.recent - st.base >= 0.02:
            out.setdefault(st.entity, []).append(
                f"{_where(st)}: error ratio {pct(st.recent)} (baseline {pct(st.base)})")
        elif (st.entity, st.name) in tails and st.z >= 3 and st.ratio >= 1.5:
            out.setdefault(st.entity, []).append(
                f"{_where(st)}: p{tail_quantile(st.name, '')} latency {st.recent:.2f}s "
                f"(baseline {st.base:.2f}s, x{st.ratio:.1f})")
    return out
