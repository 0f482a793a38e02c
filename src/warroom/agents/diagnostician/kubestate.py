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

from dataclasses import replace
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
_PENDING_LONG = 300.0  # seconds Pending with no node before the scheduler is blamed


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


# a node condition set now -> (fault, weight); the objects' (kubernetes.py) weigh more
_NODE_CONDITIONS = {
    ("ready", "false"): ("node_failure", 0.75),
    ("ready", "unknown"): ("node_failure", 0.75),
    ("diskpressure", "true"): ("disk_pressure", 0.6),
    ("memorypressure", "true"): ("node_failure", 0.35),
    ("pidpressure", "true"): ("node_failure", 0.25),
}


class _Facts:
    """What the gauges set now say about pods and nodes, read before judging any one."""

    def __init__(self, ix: Index) -> None:
        self.waiting: set[tuple[str, str]] = set()  # (namespace, pod) with a container waiting
        self.not_running: set[tuple[str, str]] = set()  # pods whose phase is not Running
        self.restarting: set[tuple[str, str]] = set()  # pods that restarted in the window
        self.oom_killed: set[tuple[str, str]] = set()  # pods whose last exit was OOMKilled
        self.signalled: set[tuple[str, str]] = set()  # last exit by SIGKILL/SIGTERM (137, 143)
        self.unready: set[tuple[str, str]] = set()  # pods not ready now
        self.node_of: dict[tuple[str, str], str] = {}
        self.sick_nodes: set[str] = set()
        self.wanted: dict[Entity, float] = {}  # a Deployment's spec replicas now
        self.start = 0.0  # when the first of these gauges was first scraped: the window's start
        starts: list[float] = []
        for s in ix.snapshot.series:
            if not s.name.startswith("kube_"):
                continue
            if pts := ix.points(s):
                starts.append(pts[0][0])
            pod = (_label(s, "namespace"), _label(s, "pod"))
            set_now = _set_now(ix, s)[0]
            if s.name == "kube_pod_info" and _label(s, "node"):
                self.node_of[pod] = _label(s, "node")
            elif s.name == "kube_pod_container_status_waiting" and set_now:
                self.waiting.add(pod)
            elif (s.name == "kube_pod_status_ready" and set_now
                  and _label(s, "condition").lower() == "false"):
                self.unready.add(pod)
            elif s.name == "kube_deployment_spec_replicas" and (pts := ix.points(s)):
                self.wanted[(_label(s, "namespace"), _label(s, "deployment"))] = pts[-1][1]
            elif s.name == "kube_pod_container_status_restarts_total" and _rose(ix, s):
                self.restarting.add(pod)
            elif (s.name == "kube_pod_container_status_last_terminated_reason" and set_now
                  and _label(s, "reason").lower() == "oomkilled"):
                self.oom_killed.add(pod)
            elif (s.name == "kube_pod_container_status_last_terminated_exitcode"
                  and (pts := ix.points(s)) and pts[-1][1] in (137, 143)):
                self.signalled.add(pod)
            elif (s.name == "kube_pod_status_phase" and set_now
                  and _label(s, "phase").lower() != "running"):
                self.not_running.add(pod)
            elif s.name == "kube_node_status_condition" and set_now and (
                    _label(s, "condition").lower(), _label(s, "status").lower()
            ) in _NODE_CONDITIONS:
                self.sick_nodes.add(_label(s, "node"))
        self.start = min(starts, default=0.0)

    def serving(self, ready: Series) -> bool:
        """Tell whether the pod of a readiness series runs every container on a sound node, so
        that only its own readiness probe can keep it out of service."""
        pod = (_label(ready, "namespace"), _label(ready, "pod"))
        # restarts by a signal that no OOM kill explains are the kubelet's, after failed
        # liveness probes; restarts after the code exited by itself are a crash
        killed = pod in self.signalled and pod not in self.oom_killed
        return (pod not in self.waiting and pod not in self.not_running
                and (pod not in self.restarting or killed)
                and self.node_of.get(pod) not in self.sick_nodes)

    def troubled(self, ix: Index) -> set[Entity]:
        """Return the workloads with a pod waiting, not running or not ready now."""
        return {ix.owner_of_pod(*pod) for pod in self.waiting | self.not_running | self.unready}

    def pending_unplaced(self, phase: Series) -> bool:
        """Tell whether a Pending pod has no node and no container waiting: never scheduled."""
        pod = (_label(phase, "namespace"), _label(phase, "pod"))
        return pod not in self.node_of and pod not in self.waiting


def kube_state_findings(ix: Index) -> list[Finding]:
    """Name rollout, scheduling and node faults from kube-state-metrics gauges set now.

    A state that held from the window's start, before the incident, is marked `chronic`
    (rules.py weighs it, as a chronic log template is noise).
    """
    facts = _Facts(ix)
    troubled = facts.troubled(ix)
    out: list[Finding] = []
    for s in ix.snapshot.series:
        if not s.name.startswith("kube_"):
            continue
        if s.name == "kube_node_status_condition":
            out += _node_condition(ix, s)
            continue
        if s.name == "kube_deployment_status_replicas_available":
            out += _uncreated(ix, s, facts.wanted, troubled, facts.start)
            continue
        subject = _subject(ix, s)
        now, was_clear = _set_now(ix, s)
        if subject is None or not now:
            continue
        chronic = not was_clear and ix.points(s)[0][0] <= facts.start
        out += [replace(f, evidence=f"{f.evidence}, before the window", chronic=True)
                if chronic else f for f in _pod_findings(ix, s, subject, facts, was_clear)]
    return out


def _pod_findings(ix: Index, s: Series, subject: tuple[Entity, str], facts: _Facts,
                  was_clear: bool) -> list[Finding]:
    """Judge one pod's gauge set now."""
    (ns, name), pod = subject
    where = f"{ns}/{pod or name}" if ns else pod or name
    reason = _label(s, "reason").lower()
    pod_key = (_label(s, "namespace"), pod)
    if s.name == "kube_pod_container_status_waiting_reason" and reason in _WAITING:
        fault, weight = _WAITING[reason]
        return [Finding(ns, name, fault, weight, f"pod {where}: container waiting, reason "
                        f"{_label(s, 'reason')} ({s.name})", source="kubernetes")]
    if (s.name == "kube_pod_container_status_waiting_reason" and reason == "crashloopbackoff"
            and pod_key not in facts.oom_killed):
        # it keeps exiting; why is in its logs (the OOM kills are judged below)
        return [Finding(ns, name, "application_error", 0.3,
                        f"pod {where}: container in CrashLoopBackOff ({s.name})",
                        generic=True, source="kubernetes")]
    if (s.name == "kube_pod_container_status_last_terminated_reason" and reason == "oomkilled"
            and (was_clear or pod_key in facts.restarting)):
        # killed for memory lately: a limit the working set outgrew, at once or slowly
        looping = pod_key in facts.restarting and pod_key in facts.waiting
        text = (f"pod {where}: last terminated OOMKilled"
                f"{', restarting' if pod_key in facts.restarting else ''} ({s.name})")
        return [Finding(ns, name, "memory_limit_too_low", 0.45 if looping else 0.3, text,
                        source="kubernetes"),
                Finding(ns, name, "memory_leak", 0.3, text, source="kubernetes")]
    if s.name == "kube_pod_status_unschedulable" or (
            s.name == "kube_pod_status_scheduled" and _label(s, "condition").lower() == "false"):
        return [Finding(ns, name, "unschedulable", 0.6,
                        f"pod {where}: not scheduled on any node ({s.name})",
                        source="kubernetes")]
    if (s.name == "kube_pod_status_phase" and _label(s, "phase").lower() == "pending"
            and not was_clear and _held(ix, s) >= _PENDING_LONG and facts.pending_unplaced(s)):
        return [Finding(ns, name, "unschedulable", 0.35,
                        f"pod {where}: Pending with no node assigned ({s.name})",
                        source="kubernetes")]
    if (s.name == "kube_pod_status_ready" and _label(s, "condition").lower() == "false"
            and facts.serving(s)):
        # running on a sound node and not ready: its readiness probe fails (as the objects'
        # Running-but-not-Ready says)
        return [Finding(ns, name, "probe_failure", 0.4,
                        f"pod {where}: running but not ready ({s.name})", source="kubernetes")]
    return []


def _held(ix: Index, s: Series) -> float:
    """Return how many seconds a series spans (a gauge set at all its samples: how long)."""
    pts = ix.points(s)
    return pts[-1][0] - pts[0][0] if pts else 0.0


def _rose(ix: Index, s: Series) -> bool:
    """Tell whether a counter grew over the window."""
    pts = ix.points(s)
    return len(pts) >= 2 and pts[-1][1] > pts[0][1]


def _uncreated(ix: Index, available: Series, wanted: dict[Entity, float],
               troubled: set[Entity], start: float) -> list[Finding]:
    """Judge a Deployment short of replicas while every pod it has is ready and running.

    The missing replicas are no pods at all: the ReplicaSet could not create them (a quota or
    an admission rule refused them), which a short but healthy Deployment shows when it has
    stayed short for five minutes. Short since the window began is old trouble (`chronic`).
    """
    ent = (_label(available, "namespace"), _label(available, "deployment"))
    want = wanted.get(ent)
    pts = ix.points(available)
    if want is None or not pts or pts[-1][1] >= want or ent in troubled:
        return []
    short = [t for t, v in pts if v < want]
    recent = [v for t, v in pts if t >= pts[-1][0] - _PENDING_LONG]
    if _held(ix, available) < _PENDING_LONG or any(v >= want for v in recent):
        return []
    chronic = short[0] <= max(start, pts[0][0])
    return [Finding(ent[0], ent[1], "unschedulable", 0.35,
                    f"deployment {ent[0]}/{ent[1]}: {pts[-1][1]:.0f} of {want:.0f} replicas "
                    f"available and no pod of it waiting or unready: the rest were never "
                    f"created ({available.name}){', before the window' if chronic else ''}",
                    source="kubernetes", chronic=chronic)]


def _node_condition(ix: Index, s: Series) -> list[Finding]:
    """Judge one `kube_node_status_condition{condition, status}` gauge set now."""
    node = _label(s, "node")
    key = (_label(s, "condition").lower(), _label(s, "status").lower())
    now, was_clear = _set_now(ix, s)
    if not node or not now or key not in _NODE_CONDITIONS:
        return []
    fault, weight = _NODE_CONDITIONS[key]
    # the onset is when it was first set, if the window saw it clear before
    onset = next((datetime.fromtimestamp(t, tz=UTC) for t, v in ix.points(s) if v >= 1),
                 None) if was_clear else None
    since = f" since {onset:%H:%M:%S}" if onset else ""
    return [Finding("", node, fault, weight,
                    f"node {node}: {_label(s, 'condition')}={_label(s, 'status')}{since} "
                    f"({s.name})", onset=onset, source="kubernetes")]


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
