"""Series too short for a baseline, judged by their level or by when they stopped.

`metrics.series_stat` needs `MIN_POINTS` samples to compare a series with its own history; at
five-minute steps a series may hold fewer. Some facts need no history: a pod round trip of a
tenth of a second, a certificate past its expiry, a filesystem nine-tenths full, a node whose
every series stopped while another node still reports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from statistics import median

from warroom.agents.diagnostician import roles
from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Index, named_place
from warroom.agents.diagnostician.metrics import MIN_POINTS, SILENT_AFTER, pct, tail_quantile

# a pod-to-pod round trip inside one cluster takes a few milliseconds; a p99 this high is a
# network problem whatever the series' own history
NETWORK_RTT_ABNORMAL = 0.1


def young_series_findings(ix: Index) -> list[Finding]:
    """Judge series too short for a baseline by absolute level or by when they stopped.

    A pod network round trip and a node's filesystem are judged by their level (as full as the
    long series' rule asks); a TLS expiry by its sign; a node whose every series stopped while
    another node still reports has gone silent. Long series are judged by `metric_findings`
    against their own baseline, so nothing is counted twice.
    """
    out: list[Finding] = []
    latest = max((float(s.values[-1][0]) for s in ix.snapshot.series if s.values), default=0.0)
    node_ends: dict[str, list[tuple[str, float, int]]] = {}
    for s in ix.snapshot.series:
        pts = ix.points(s)
        if not pts:
            continue
        role = ix.role(s)
        if role.startswith("node:") and s.metric.get("node"):
            node_ends.setdefault(s.metric["node"], []).append((role, pts[-1][0], len(pts)))
        if role == roles.CERT_EXPIRY and len(pts) < MIN_POINTS and pts[-1][1] <= 0:
            ns, svc = s.metric.get("namespace", ""), named_place(s.metric)
            if svc:
                out.append(Finding(ns, svc, "certificate_expired", 0.8,
                                   f"{f'{ns}/' if ns else ''}{svc}: served TLS certificate "
                                   f"expired {-pts[-1][1] / 60:.0f} min ago "
                                   f"({s.name} <= 0)", source="metrics"))
        node = s.metric.get("node", "")
        if role == roles.NODE_FILESYSTEM and node and len(pts) < MIN_POINTS and (
                latest - pts[-1][0] <= SILENT_AFTER):
            full = median(v for _, v in pts[-3:])  # as full as the long series' rule asks
            if full >= 0.9:
                out.append(Finding("", node, "disk_pressure", 0.5,
                                   f"node {node}: filesystem {pct(full)} full "
                                   f"(series only {len(pts)} samples)", source="metrics"))
    out += _silent_nodes(node_ends, latest)
    judged: set[tuple[str, str]] = set()
    rtts = [(q, s) for s in ix.snapshot.series
            if (q := tail_quantile(ix.role(s), "pod:network_latency_seconds:"))]
    for quantile, s in sorted(rtts, key=lambda qs: -qs[0]):  # the highest quantile first
        pts = ix.points(s)
        if not pts or len(pts) >= MIN_POINTS:
            continue  # long series are judged against their own baseline
        recent = median(v for _, v in pts[-3:])
        if recent < NETWORK_RTT_ABNORMAL:
            continue
        ns, pod = s.metric.get("namespace", ""), s.metric.get("pod", "")
        if not pod:
            continue
        if (ns, pod) in judged:
            continue  # one tail quantile per pod is enough
        judged.add((ns, pod))
        ent = ix.owner_of_pod(ns, pod)
        out.append(Finding(ent[0], ent[1], "network_latency", 0.6,
                           f"pod {ns}/{pod}: network round trip p{quantile} "
                           f"{recent * 1000:.0f} ms "
                           f"(series only {len(pts)} samples old; in-cluster round trips take "
                           "a few ms)", onset=datetime.fromtimestamp(pts[0][0], tz=UTC),
                           source="metrics"))
    return out


def _silent_nodes(ends: dict[str, list[tuple[str, float, int]]],
                  latest: float) -> list[Finding]:
    """Name a node whose every series stopped (too short for `metric_findings` to judge).

    Another node must still report at the newest sample, or it is the scrape that stopped.
    """
    live = {n for n, e in ends.items() if any(latest - t <= 1 for _, t, _ in e)}
    out: list[Finding] = []
    for node, e in sorted(ends.items()):
        if not live - {node} or any(n >= MIN_POINTS for _, _, n in e):
            continue  # no other node to compare with, or long enough for metric_findings
        if all(latest - t > SILENT_AFTER for _, t, _ in e):
            names = sorted({name for name, _, _ in e})
            out.append(Finding("", node, "node_failure", 0.6 if len(names) >= 2 else 0.4,
                               f"node {node}: node metrics stopped reporting "
                               f"({', '.join(names)})", source="metrics"))
    return out
