"""The cluster's own state read from kube-state-metrics series, when no API object was captured.

kube-state-metrics exports what the Kubernetes API says about pods and workloads as Prometheus
series, so a metrics backend keeps the fingerprints of rollout faults after the objects are
gone: why a container waits, why it last terminated, whether a pod was scheduled or is ready,
and a Deployment's generation. The names and labels read here are the exporter's documented
ones (`kube_pod_container_status_waiting_reason{reason=...}`, `kube_pod_status_phase{phase=...}`,
`kube_deployment_metadata_generation`...); a series names its subject with `namespace` and
`pod` (or the workload label); `exported_*` labels a scrape renamed are the exporter's again
(`labels.exporters_labels`).

The weights sit below the same fingerprints read from objects (kubernetes.py): a gauge says a
state held at a scrape, not the message that explains it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity, Index
from warroom.sensors.models import Change, Series

# why a container waits -> (fault, weight)
_WAITING = {
    "errimagepull": ("image_pull_error", 0.65),
    "imagepullbackoff": ("image_pull_error", 0.65),
    "invalidimagename": ("image_pull_error", 0.65),
    "createcontainerconfigerror": ("config_error", 0.55),
}
_GENERATION = ("kube_deployment_metadata_generation", "kube_statefulset_metadata_generation",
               "kube_daemonset_metadata_generation")
_WORKLOAD_LABELS = ("deployment", "statefulset", "daemonset")


def _label(s: Series, name: str) -> str:
    return s.metric.get(name) or ""


def _subject(ix: Index, s: Series) -> tuple[Entity, str] | None:
    """Return (the workload a kube-state-metrics series is about, its pod or '')."""
    ns = _label(s, "namespace")
    pod = _label(s, "pod")
    if pod:
        return ix.owner_of_pod(ns, pod), pod
    for label in _WORKLOAD_LABELS:
        if _label(s, label):
            return (ns, _label(s, label)), ""
    return None


def _set_now(ix: Index, s: Series) -> tuple[bool, bool]:
    """Return (the gauge is set at its newest sample, it was clear at its first)."""
    pts = ix.points(s)
    if not pts:
        return False, False
    return pts[-1][1] >= 1, pts[0][1] < 1


def kube_state_findings(ix: Index) -> list[Finding]:
    """Name rollout and scheduling faults from kube-state-metrics gauges set now."""
    out: list[Finding] = []
    for s in ix.snapshot.series:
        if not s.name.startswith("kube_"):
            continue
        subject = _subject(ix, s)
        if subject is None:
            continue
        (ns, name), pod = subject
        where = f"{ns}/{pod or name}" if ns else pod or name
        now, was_clear = _set_now(ix, s)
        if not now:
            continue
        reason = _label(s, "reason").lower()
        if s.name == "kube_pod_container_status_waiting_reason" and reason in _WAITING:
            fault, weight = _WAITING[reason]
            out.append(Finding(ns, name, fault, weight,
                               f"pod {where}: container waiting, reason {_label(s, 'reason')} "
                               f"({s.name})", source="kubernetes"))
        elif s.name == "kube_pod_status_unschedulable" or (
                s.name == "kube_pod_status_scheduled"
                and _label(s, "condition").lower() == "false"):
            out.append(Finding(ns, name, "unschedulable", 0.6,
                               f"pod {where}: not scheduled on any node ({s.name})",
                               source="kubernetes"))
        elif (s.name == "kube_pod_status_ready" and _label(s, "condition").lower() == "false"
              and was_clear and not _waiting(ix, s)):
            # running (no waiting reason) and no longer ready: its readiness probe fails
            out.append(Finding(ns, name, "probe_failure", 0.4,
                               f"pod {where}: running but no longer ready ({s.name})",
                               source="kubernetes"))
    return out


def _waiting(ix: Index, ready: Series) -> bool:
    """Tell whether the pod of a readiness series has a container waiting (not running)."""
    ns, pod = _label(ready, "namespace"), _label(ready, "pod")
    for s in ix.snapshot.series:
        if (s.name == "kube_pod_container_status_waiting" and _label(s, "pod") == pod
                and _label(s, "namespace") == ns and _set_now(ix, s)[0]):
            return True
    return False


def rollouts_from_generations(ix: Index, known: list[Change]) -> list[Change]:
    """Read rollouts from a workload's generation rising (every spec change bumps it).

    A rollout the change feed (or the ReplicaSets) already records within ten minutes of the
    bump is not read twice.
    """
    out: list[Change] = []
    for s in ix.snapshot.series:
        if s.name not in _GENERATION:
            continue
        kind = s.name.split("_")[1]
        ns, name = _label(s, "namespace"), _label(s, kind)
        pts = ix.points(s)
        if not name:
            continue
        for (_, before), (t, after) in zip(pts, pts[1:], strict=False):
            at = datetime.fromtimestamp(t, tz=UTC)
            target = f"{ns}/{kind}/{name}"
            if after > before and not any(
                    c.target.endswith(f"/{name}") and abs((c.time - at).total_seconds()) <= 600
                    for c in known):
                out.append(Change(time=at, kind="deploy", target=target,
                                  description=f"generation {before:.0f} -> {after:.0f} "
                                              f"({s.name})"))
    return out
