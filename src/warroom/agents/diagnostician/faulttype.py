"""Fault typing from the pattern of what moved at a place, when no object names the fault.

The localisation method (localise.py) finds the places; this module says what broke there,
the way an SRE reads a dashboard: which kind of resource moved (read from generic words in
the series' names, any exporter), whether demand moved with it, whether errors or only
latency rose, whether new error log templates appeared, and the shape in time (a steady climb,
a step that is still there, a step that switched off again). The fingerprint analyzers
(Kubernetes objects, log phrases, changes, named metrics) weigh more and win when present.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from warroom.agents.diagnostician.anomaly import kind_of, place_of
from warroom.agents.diagnostician.index import Entity, Index
from warroom.agents.diagnostician.roles import DATABASE_PREFIXES

if TYPE_CHECKING:
    from warroom.agents.diagnostician.anomaly import Signal
    from warroom.agents.diagnostician.localise import Place

# generic words naming a data store in a place's name (any vendor, any naming scheme)
_DATASTORE = re.compile(r"(^|[^a-z])(db|database|sql|postgres\w*|mysql|mariadb|mongo\w*|"
                        r"redis|cassandra|dynamo\w*|rds|aurora|elasticache|memcache\w*|"
                        r"table|cache)([^a-z]|$)|db\b|sql\b|dynamodb", re.I)

# which resource a series measures, from generic words in its name
_DISK = re.compile(r"disk|filesystem|storage|volume|inode", re.I)
_CPU = re.compile(r"cpu|throttl", re.I)
_MEMORY = re.compile(r"mem|heap|swap|\brss\b|_rss|oom|gc_", re.I)
_NETWORK = re.compile(r"network|(^|_)net_|tcp|retransmi|packet_?loss|(^|_)rtt|(^|_)ping(_|$)|icmp",
                      re.I)
SURGE_RATIO = 1.8  # demand this many times its baseline is a surge
KILL_LEVEL = 0.85  # memory this close to its limit is where the OOM killer acts
KILL_DROP = 0.25  # a fall this large in one sample is a restart, not a garbage collection


def is_datastore(ix: Index, ent: Entity, place: Place | None = None) -> bool:
    """Tell whether a place is a data store (db series, a database workload, or its name)."""
    if ix.is_database(ent) or _DATASTORE.search(ent[1]):
        return True
    return place is not None and any(s.name.startswith(DATABASE_PREFIXES)
                                     for s in place.signals)


def external_host(ix: Index, ent: Entity) -> bool:
    """Tell whether a place is an outside host: a dotted name that is no node or service."""
    return (ent[0] == "" and "." in ent[1] and ent[1] not in ix.node_names
            and ent[1] not in ix.service_ns)


def resourced(ix: Index) -> set[Entity]:
    """Return the places with a resource series (CPU, memory, connections...), moving or not."""
    out: set[Entity] = set()
    for s in ix.snapshot.series:
        if kind_of(s.name) == "saturation":
            ent = place_of(ix, s)
            if ent is not None:
                out.add(ent)
    return out


def killed_at_limit(ix: Index, ent: Entity) -> bool:
    """Tell whether the place's container was killed at its memory limit and climbs again.

    Read from a memory series that is a share of its limit: a sample at 85% of the limit or
    more followed by a fall of a quarter of the limit or more in one step is the OOM killer
    restarting the container, and a rise in the next sample is the memory climbing again. At
    five-minute steps a leak's sawtooth shows no steady climb, but a kill and the climb after
    it still show in three samples, however short the series and whatever its baseline.
    """
    for series in ix.snapshot.series:
        if not _measures_memory(series.name) or place_of(ix, series) != ent:
            continue
        vals = [v for _, v in ix.points(series)]
        if not vals or min(vals) < 0 or max(vals) > 1.0:
            continue  # not a share of a limit
        if any(a >= KILL_LEVEL and a - b >= KILL_DROP and c > b
               for a, b, c in zip(vals, vals[1:], vals[2:], strict=False)):
            return True
    return False


@functools.lru_cache(maxsize=4096)
def _measures_memory(name: str) -> bool:
    return _MEMORY.search(name) is not None


def switched_off(signals: list[Signal]) -> bool:
    """Tell whether a place's errors and latency switched on and off again.

    Every errors or latency series that moved clearly left its baseline for two samples or
    more and is back inside it at the newest sample: a behaviour that was turned on and then
    off, which is what toggling a runtime setting does (a deployed defect stays until a
    rollback, and a rollback would show as a change). A series whose missed scrapes leave
    that unknown does not say either way.
    """
    symptoms = [s for s in signals if s.kind in ("errors", "latency")]
    # what moved clearly, or (at a place whose symptoms are all weak) what moved the most
    floor = min(0.3, max((s.score for s in symptoms), default=0.0))
    moved = [s for s in symptoms if s.score >= floor > 0]
    known = [s.recovered for s in moved if s.recovered is not None]
    return bool(known) and all(known)


def type_fault(ix: Index, p: Place, watched: set[Entity] | None = None) -> tuple[str, str]:
    """Name the fault from the pattern of what moved at a place, with the reason.

    `watched` are the places whose resources are observed at all (see `resourced`); by
    default, the place's own moving signals say.
    """
    if p.blind_below is not None:
        return "external_dependency", (f"an outside host with no telemetry of its own whose "
                                        f"caller {p.blind_below[1]} fails")
    up = [s for s in p.signals if s.score > 0]
    names = " ".join(s.name.lower() for s in up)
    kinds = p.kinds
    traffic_up = [s for s in up if s.kind == "traffic" and s.ratio >= SURGE_RATIO]
    if is_datastore(ix, p.entity, p):
        if _DISK.search(names) and not re.search(r"cpu|connection|latency|iops", names):
            return "disk_pressure", "its storage filled"
        return "database_saturation", "a data store whose load, latency or errors rose"
    if _DISK.search(names):
        return "disk_pressure", "its disk usage rose"
    if _CPU.search(names):
        if traffic_up:
            return "traffic_surge", "its request rate and CPU rose together"
        return "cpu_saturation", "its CPU use or throttling rose with demand flat"
    if traffic_up and not ({"errors", "latency"} & kinds):
        return "traffic_surge", "its request rate rose"
    memory = [s for s in up if _MEMORY.search(s.name)]
    if memory:
        if any(s.climbing for s in memory):
            return "memory_leak", "its memory climbed steadily towards its limit"
        return "memory_limit_too_low", "its memory use rose"
    if ({"errors", "latency"} & kinds) and killed_at_limit(ix, p.entity):
        return "memory_leak", ("its memory fell sharply from its limit (the container was "
                               "killed) and climbs again")
    if any(_NETWORK.search(s.name) and s.kind != "traffic" for s in up):
        return "network_latency", "its network round trips, retransmissions or drops rose"
    if external_host(ix, p.entity) and ({"errors", "latency"} & kinds):
        return "external_dependency", "an external host whose answers degraded"
    if p.template is None and switched_off(up):
        return "config_error", ("its errors or latency switched on and off again with demand "
                                "and resources flat and no new error in its logs: a runtime "
                                "setting toggled, not a defect in the running code")
    if "errors" in kinds:
        if p.template is not None:
            return "application_error", "its errors rose with new error log templates"
        return "application_error", "its error ratio rose"
    if "latency" in kinds:
        seen = p.entity in watched if watched is not None else any(
            s.kind == "saturation" for s in p.signals)
        if not seen and p.entity not in ix.workloads:
            # "network" needs its resources seen flat, or a cluster network it runs on; a
            # function or managed endpoint with neither is as likely slower in its own code
            return "application_error", ("it got slower while its errors and what it calls "
                                         "stayed flat, with no resource series to clear its "
                                         "own code and no cluster network seen under it")
        return "network_latency", "it got slower while its errors and CPU stayed flat"
    if any(s.stopped for s in p.signals):
        return "node_failure" if p.entity[1] in ix.node_names else "application_error", (
            "its series stopped reporting")
    return "application_error", "its own signals moved"
