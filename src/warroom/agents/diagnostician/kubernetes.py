"""Kubernetes analyzers, in the spirit of k8sgpt: pods, events, nodes, PVCs, quotas, certs.

Each analyzer reads raw API objects and returns findings that name the owning workload (or the
node) and cite what a human can check with kubectl.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Index
from warroom.agents.diagnostician.objects import as_int, meta, parse_time

_RECENT = timedelta(hours=3)
# an OOM kill this soon after the container started means the limit is below the ordinary
# working set; one after hours of uptime is what a leak looks like
_SOON_AFTER_START = timedelta(minutes=5)
_LONG_LIFE = timedelta(hours=2)


_PENDING_LONG = timedelta(minutes=2)
# trouble that began this long before now predates the incident: another one, long known
_CHRONIC = timedelta(hours=6)
_BACKOFF = timedelta(minutes=5)  # the kubelet's longest back-off between restarts
# the stuck states whose start a pod's status dates (an OOM kill dates itself: `_RECENT`)
_DATED = frozenset({"image_pull_error", "config_error", "application_error", "unschedulable"})


def trouble_since(pod: dict[str, Any], now: datetime) -> datetime | None:
    """Return the latest time a pod's trouble can have begun, from what its status says.

    A container that never ran (waiting, no restart, no last state) has waited since the pod
    started; a crash loop of N restarts began N back-offs ago at least; a pod the scheduler
    never placed has waited since its PodScheduled condition last changed. None when the
    status dates nothing.
    """
    status = pod.get("status") or {}
    started = parse_time(status.get("startTime")) or parse_time(
        meta(pod).get("creationTimestamp"))
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            return parse_time(cond.get("lastTransitionTime")) or started
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        restarts = as_int(cs.get("restartCount"))
        if waiting is not None and not restarts and not cs.get("lastState"):
            return started
        if (waiting or {}).get("reason") == "CrashLoopBackOff" and restarts:
            return now - restarts * _BACKOFF
    return None


def _limit(pod: dict[str, Any], container: str, resource: str) -> str:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == container:
            return str(((c.get("resources") or {}).get("limits") or {}).get(resource, ""))
    return ""


def analyze_pods(ix: Index, now: datetime) -> list[Finding]:
    """Judge container states: OOMKilled, crash loops, image pulls, config errors, pending."""
    out: list[Finding] = []
    for (ns, name), pod in ix.pods.items():
        owner = ix.owner_of_pod(ns, name)
        status = pod.get("status") or {}
        where = f"Pod {ns}/{name}"
        since = trouble_since(pod, now)

        def add(fault: str, weight: float, text: str, onset: datetime | None = None,
                generic: bool = False, owner: tuple[str, str] = owner,
                since: datetime | None = since) -> None:
            old = since is not None and now - since >= _CHRONIC and fault in _DATED
            if old:
                # stuck like this since long before anyone was paged (rules.py weighs it)
                text += f"; so since {since:%Y-%m-%d %H:%M}Z, before the incident"
            out.append(Finding(owner[0], owner[1], fault, weight, text, generic=generic,
                               onset=onset, source="kubernetes", chronic=old))

        for cs in status.get("containerStatuses") or []:
            cname = cs.get("name", "")
            state = cs.get("state") or {}
            waiting = state.get("waiting") or {}
            reason = waiting.get("reason", "")
            last = (cs.get("lastState") or {}).get("terminated") or {}
            restarts = as_int(cs.get("restartCount"))
            finished = parse_time(last.get("finishedAt"))
            recent = finished is None or now - finished <= _RECENT
            looping = reason == "CrashLoopBackOff"
            if last.get("reason") == "OOMKilled" and (recent or looping):
                limit = _limit(pod, cname, "memory")
                text = (f"{where}: lastState OOMKilled, exit {last.get('exitCode', 137)}"
                        f"{', limit ' + limit if limit else ''}, {restarts} restarts"
                        f"{', CrashLoopBackOff' if looping else ''}")
                started = parse_time(last.get("startedAt"))
                lived = finished - started if started and finished else None
                if lived is not None and lived <= _SOON_AFTER_START:
                    # killed minutes after it started: the ordinary working set does not fit
                    # (a leak needs the pod's lifetime to climb to the limit)
                    text += f", killed {lived.total_seconds():.0f}s after it started"
                    add("memory_limit_too_low", 0.75 if looping or restarts >= 2 else 0.55,
                        text, finished)
                    add("memory_leak", 0.1, text, finished)
                elif looping:
                    add("memory_limit_too_low", 0.7, text, finished)
                    add("memory_leak", 0.25, text, finished)
                elif lived is not None and lived >= _LONG_LIFE:
                    text += f", killed after {lived.total_seconds() / 3600:.1f}h of uptime"
                    add("memory_leak", 0.4, text, finished)
                    add("memory_limit_too_low", 0.2, text, finished)
                elif restarts >= 3:
                    add("memory_limit_too_low", 0.45, text, finished)
                    add("memory_leak", 0.3, text, finished)
                else:
                    add("memory_leak", 0.3, text, finished)
                    add("memory_limit_too_low", 0.3, text, finished)
            elif looping:
                code = last.get("exitCode")
                text = (f"{where}: CrashLoopBackOff, {restarts} restarts, last exit "
                        f"{code} ({last.get('reason', 'unknown')})")
                if as_int(code) in (137, 143) and _liveness_failing(ix, ns, name):
                    # SIGKILL/SIGTERM after failed liveness probes: the kubelet restarted a
                    # container its probe could not reach; the code did not crash by itself
                    add("probe_failure", 0.35, text + " after failed liveness probes",
                        finished)
                else:
                    add("application_error", 0.35, text, finished, generic=True)
            if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                          "ErrImageNeverPull"):
                add("image_pull_error", 0.8,
                    f"{where}: {reason} for image {cs.get('image', '?')}"
                    f"{': ' + waiting['message'][:160] if waiting.get('message') else ''}")
            if reason in ("CreateContainerConfigError", "CreateContainerError"):
                add("config_error", 0.8, f"{where}: {reason}: {waiting.get('message', '')[:200]}")
            term = state.get("terminated") or {}
            if status.get("phase") == "Failed" and (status.get("reason") == "Evicted"
                                                     or term.get("reason") == "Evicted"):
                node = ix.pod_node(ns, name)
                msg = status.get("message") or ""
                if node and ("ephemeral-storage" in msg or "disk" in msg.lower() or not msg):
                    add("disk_pressure", 0.3, f"{where}: Evicted from node {node} {msg[:120]}",
                        owner=("", node))
        conds = {c.get("type"): c for c in status.get("conditions") or []}
        statuses = status.get("containerStatuses") or []
        node_ok = _node_ready(ix, ix.pod_node(ns, name))
        if (status.get("phase") == "Running" and node_ok and statuses
                and (conds.get("Ready") or {}).get("status") == "False"
                and all("running" in (cs.get("state") or {}) for cs in statuses)):
            add("probe_failure", 0.35,
                f"{where}: Running but not Ready (containers up, readiness failing)")
        for cond in status.get("conditions") or []:
            if (cond.get("type") == "PodScheduled" and cond.get("status") == "False"
                    and cond.get("reason") == "Unschedulable"):
                add("unschedulable", 0.75,
                    f"{where}: Pending, unschedulable: {cond.get('message', '')[:200]}")
        created = parse_time(meta(pod).get("creationTimestamp"))
        if (status.get("phase") == "Pending" and not (pod.get("spec") or {}).get("nodeName")
                and not status.get("containerStatuses") and "PodScheduled" not in conds
                and (created is None or now - created >= _PENDING_LONG)):
            # a pod no node was ever assigned to: the scheduler has not placed it (the
            # scheduler's own message, when present, is read above and weighs more)
            add("unschedulable", 0.4, f"{where}: Pending with no node assigned")
        if status.get("phase") == "Unknown":
            node = ix.pod_node(ns, name)
            if node:
                add("node_failure", 0.3, f"{where}: phase Unknown on node {node}",
                    owner=("", node))
    return out


def _liveness_failing(ix: Index, namespace: str, pod: str) -> bool:
    """Tell whether the pod's events show liveness probe failures."""
    return any(ev.get("reason") == "Unhealthy"
               and "liveness probe failed" in str(ev.get("message", "")).lower()
               for ev in ix.events.get(("Pod", namespace, pod), []))


def _over_target(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """Describe a resource metric of an HPA that is above its utilization target, or ''."""
    targets = {(x.get("resource") or {}).get("name"):
               ((x.get("resource") or {}).get("target") or {}).get("averageUtilization")
               for x in spec.get("metrics") or [] if x.get("type") == "Resource"}
    for cur in status.get("currentMetrics") or []:
        res = cur.get("resource") or {}
        now = (res.get("current") or {}).get("averageUtilization")
        want = targets.get(res.get("name"))
        if isinstance(now, int | float) and isinstance(want, int | float) and now > want:
            return f"{res.get('name')} at {now}% of requests vs target {want}%"
    return ""


def _node_ready(ix: Index, node: str) -> bool:
    obj = ix.nodes.get(node)
    if obj is None:
        return True
    conds = (obj.get("status") or {}).get("conditions") or []
    return all(c.get("status") == "True" for c in conds if c.get("type") == "Ready")


_PROBE = re.compile(r"(Readiness|Liveness|Startup) probe failed", re.I)
_PULL = re.compile(r"Failed to pull image|ErrImagePull|manifest unknown|pull access denied")


def analyze_events(ix: Index, now: datetime) -> list[Finding]:
    """Read Warning events: probe failures, scheduling, pulls, evictions, node readiness."""
    out: list[Finding] = []
    for (kind, ns, name), events in ix.events.items():
        for ev in events:
            last = parse_time(ev.get("lastTimestamp")) or parse_time(ev.get("eventTime"))
            if last is not None and now - last > _RECENT:
                continue
            reason, msg = ev.get("reason", ""), str(ev.get("message", ""))
            count = as_int(ev.get("count"), 1) or 1
            first = parse_time(ev.get("firstTimestamp"))
            # repeated since long before now: old trouble, not what changed
            old = first is not None and count > 1 and now - first >= _CHRONIC
            owner = ix.owner_of_pod(ns, name) if kind == "Pod" else (ns, name)
            if kind == "ReplicaSet" and (ns, name) in ix.rs_owner:
                owner = (ns, ix.rs_owner[(ns, name)][1])
            text = f"Event {kind} {ns + '/' if ns else ''}{name}: {reason} x{count}: {msg[:180]}"

            def add(fault: str, weight: float, where: tuple[str, str] = owner,
                    text: str = text, first: datetime | None = first, old: bool = old) -> None:
                if old and first is not None:
                    text += f"; repeated since {first:%Y-%m-%d %H:%M}Z, before the incident"
                out.append(Finding(where[0], where[1], fault, weight, text, onset=first,
                                   source="kubernetes", chronic=old))

            if reason == "Unhealthy" and _PROBE.search(msg):
                add("probe_failure", min(0.6, 0.3 + 0.02 * count))
            elif reason == "FailedScheduling":
                add("unschedulable", 0.6)
            elif (reason in ("Failed", "ErrImagePull") and _PULL.search(msg)):
                add("image_pull_error", 0.6)
            elif reason == "NodeNotReady":
                node = name if kind == "Node" else ix.pod_node(ns, name)
                if node:
                    add("node_failure", 0.5 if kind == "Node" else 0.15, ("", node))
            elif reason in ("EvictionThresholdMet", "NodeHasDiskPressure", "FreeDiskSpaceFailed"):
                node = name if kind == "Node" else ix.pod_node(ns, name)
                if node:
                    add("disk_pressure", 0.45, ("", node))
            elif reason == "OOMKilling" and kind == "Node":
                m = re.search(r"\(([^)]+)\)", msg)
                if m:
                    for (pns, pname) in ix.pods_on_node.get(name, []):
                        if ix.owner_of_pod(pns, pname)[1] == m.group(1):
                            add("memory_limit_too_low", 0.25, (pns, m.group(1)))
                            break
            elif reason == "FailedMount" and re.search(
                    r"(configmap|secret)s? \S+ not found|couldn't find key", msg, re.I):
                add("config_error", 0.5)
            elif reason in ("FailedCreate",) and "exceeded quota" in msg:
                add("unschedulable", 0.6)
            elif reason == "FailedCreate" and re.search(
                    r"(serviceaccount|secret|configmap|priorityclass)s? \"?[\w.-]+\"? not found",
                    msg, re.I):
                # the controller cannot create pods because an object they name is missing
                add("config_error", 0.5)
    return out


def analyze_nodes(ix: Index, now: datetime) -> list[Finding]:
    """Judge node conditions: NotReady/Unknown, disk and memory pressure."""
    out: list[Finding] = []
    for name, node in ix.nodes.items():
        conds = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
        ready = conds.get("Ready") or {}
        pods = len(ix.pods_on_node.get(name, []))
        if ready and ready.get("status") != "True":
            since = parse_time(ready.get("lastTransitionTime"))
            taints = [t.get("key", "") for t in (node.get("spec") or {}).get("taints") or []]
            out.append(Finding("", name, "node_failure", 0.85,
                               f"Node {name}: Ready={ready.get('status')} since "
                               f"{ready.get('lastTransitionTime', '?')} ({ready.get('reason', '')}"
                               f": {ready.get('message', '')}); taints {taints}; {pods} pods on "
                               "it", onset=since, source="kubernetes"))
            continue
        for ctype, fault, weight in (("DiskPressure", "disk_pressure", 0.7),
                                     ("MemoryPressure", "node_failure", 0.4),
                                     ("PIDPressure", "node_failure", 0.3)):
            c = conds.get(ctype) or {}
            if c.get("status") == "True":
                out.append(Finding("", name, fault, weight,
                                   f"Node {name}: {ctype}=True ({c.get('reason', '')})",
                                   onset=parse_time(c.get("lastTransitionTime")),
                                   source="kubernetes"))
    return out


def analyze_resources(ix: Index, now: datetime) -> list[Finding]:
    """Judge PVCs, quotas, HPAs at their ceiling, and certificates."""
    out: list[Finding] = []
    for pvc in ix.by_kind["PersistentVolumeClaim"]:
        m = meta(pvc)
        if (pvc.get("status") or {}).get("phase") == "Pending":
            owner = ix.pvc_owner(m.get("namespace", ""), m.get("name", ""))
            out.append(Finding(owner[0], owner[1], "unschedulable", 0.4,
                               f"PVC {m.get('namespace')}/{m.get('name')}: Pending (unbound)",
                               source="kubernetes"))
    for quota in ix.by_kind["ResourceQuota"]:
        m = meta(quota)
        st = quota.get("status") or {}
        hard, used = st.get("hard") or {}, st.get("used") or {}
        full = [k for k in hard if k in used and str(used[k]) == str(hard[k])]
        if full:
            out.append(Finding(m.get("namespace", ""), m.get("name", ""), "unschedulable", 0.2,
                               f"ResourceQuota {m.get('namespace')}/{m.get('name')}: "
                               f"{', '.join(full)} at the hard limit", source="kubernetes"))
    for hpa in ix.by_kind["HorizontalPodAutoscaler"]:
        m = meta(hpa)
        spec, st = hpa.get("spec") or {}, hpa.get("status") or {}
        target = (spec.get("scaleTargetRef") or {}).get("name") or m.get("name", "")
        limited = any(c.get("type") == "ScalingLimited" and c.get("status") == "True"
                      and c.get("reason") == "TooManyReplicas" for c in st.get("conditions") or [])
        at_ceiling = (st.get("currentReplicas") is not None
                      and st.get("currentReplicas") == spec.get("maxReplicas"))
        at_max = at_ceiling and (st.get("desiredReplicas") or 0) > (spec.get("maxReplicas") or 0)
        over = _over_target(spec, st) if at_ceiling else ""
        if limited or at_max:
            out.append(Finding(m.get("namespace", ""), target, "traffic_surge", 0.45,
                               f"HPA {m.get('namespace')}/{m.get('name')}: at maxReplicas "
                               f"{spec.get('maxReplicas')}, wants {st.get('desiredReplicas')} "
                               "(ScalingLimited TooManyReplicas)", source="kubernetes"))
        elif over:
            # at its ceiling and still above its target: it would scale further if allowed
            out.append(Finding(m.get("namespace", ""), target, "traffic_surge", 0.4,
                               f"HPA {m.get('namespace')}/{m.get('name')}: at maxReplicas "
                               f"{spec.get('maxReplicas')} with {over}", source="kubernetes"))
    for cert in ix.by_kind["Certificate"]:
        m = meta(cert)
        st = cert.get("status") or {}
        not_after = parse_time(st.get("notAfter"))
        ready: dict[str, Any] = next(
            (c for c in st.get("conditions") or [] if c.get("type") == "Ready"), {})
        expired = (not_after is not None and not_after <= now) or ready.get("reason") == "Expired"
        if expired or ready.get("status") == "False":
            ns = m.get("namespace", "")
            name = _cert_service(ix, ns, cert)
            out.append(Finding(ns, name, "certificate_expired", 0.75 if expired else 0.35,
                               f"Certificate {ns}/{m.get('name')}: Ready="
                               f"{ready.get('status', '?')} ({ready.get('reason', '')}), notAfter "
                               f"{st.get('notAfter', '?')}", onset=not_after, source="kubernetes"))
    return out


def _cert_service(ix: Index, ns: str, cert: dict[str, Any]) -> str:
    name = meta(cert).get("name", "")
    if (ns, name) in ix.workloads or name in ix.service_ns:
        return name
    for dns in (cert.get("spec") or {}).get("dnsNames") or []:
        first = str(dns).split(".")[0]
        if first in ix.service_ns:
            return first
    return re.sub(r"-(tls|cert|certificate)$", "", name)


def kubernetes_findings(ix: Index, now: datetime) -> list[Finding]:
    """Run every Kubernetes analyzer."""
    return [*analyze_pods(ix, now), *analyze_events(ix, now), *analyze_nodes(ix, now),
            *analyze_resources(ix, now)]
