"""Rule Solver: the remediation policy, with parameters read from the evidence.

For each credible hypothesis it proposes the policy's actions for that fault, fills their
parameters from the Kubernetes objects (the OOMKilled container and its limit, the last healthy
revision, the replica count and the HPA ceiling, the node), scores each with its blast radius,
and ranks them by hypothesis, policy preference and learned playbook trust. Escalation is
always the last resort in the list.
"""

from __future__ import annotations

import math
from typing import Any

from warroom.agents import workloads as wl
from warroom.agents.models import (
    Action,
    ActionPlan,
    CandidateAction,
    DiagnosisReport,
    FollowUp,
    Hypothesis,
    Risk,
)
from warroom.agents.ports import DebateContext
from warroom.domain.calls import kubectl_command
from warroom.safety.blast import blast_radius, risk_of
from warroom.safety.revisions import rolled_back_from

# fault -> the catalogue actions the policy accepts, preferred first (see the team brief)
POLICY: dict[str, tuple[str, ...]] = {
    "memory_leak": ("rollout_restart", "escalate"),
    "memory_limit_too_low": ("set_resources", "escalate"),
    # CPU that saturated with demand flat (a rise in demand is a traffic_surge): the pods need
    # more CPU for the same work, so the limit is raised before replicas are added
    "cpu_saturation": ("set_resources", "scale", "set_hpa", "escalate"),
    "traffic_surge": ("set_hpa", "scale", "escalate"),
    "bad_deploy": ("rollout_undo", "escalate"),
    "application_error": ("escalate",),
    "config_error": ("rollout_undo", "escalate"),
    "image_pull_error": ("rollout_undo", "escalate"),
    "probe_failure": ("rollout_undo", "escalate"),
    "external_dependency": ("escalate",),
    "dns_failure": ("escalate",),
    "database_saturation": ("escalate",),
    "disk_pressure": ("escalate",),
    "certificate_expired": ("escalate",),
    "network_latency": ("rollout_restart", "escalate"),
    "node_failure": ("cordon_node", "drain_node", "escalate"),
    "unschedulable": ("escalate",),
    "none": ("no_action",),
}
# what a Deployment known only by its pods can be given: their template's limits, a restart,
# or the undo of a deploy the change feed names (not how many replicas it should run)
FROM_PODS = frozenset({"set_resources", "rollout_restart", "rollout_undo"})
MIN_CONFIDENCE = 0.4  # hypotheses below this get no candidates of their own
PREFERENCE = (1.0, 0.8, 0.65, 0.5)


class RuleSolver:
    """Propose catalogue actions by the remediation policy."""

    name = "rules"

    async def solve(self, ctx: DebateContext, diagnosis: DiagnosisReport) -> ActionPlan:
        """Turn the top hypotheses into ranked, parameterised, scored candidate actions."""
        return solve(ctx, diagnosis)


def solve(ctx: DebateContext, diagnosis: DiagnosisReport) -> ActionPlan:
    """Build the plan (pure function, for the backend and for tests)."""
    ranked: list[tuple[float, int, CandidateAction]] = []
    hyps = diagnosis.hypotheses
    # a mutating action only ever targets the top-ranked root cause: acting on a runner-up
    # (often a caller that inherits the leader's symptoms) is how the wrong service gets touched
    usable = [] if diagnosis.abstain else [
        (i, h) for i, h in enumerate(hyps[:1]) if h.confidence >= MIN_CONFIDENCE]
    top_conf = usable[0][1].confidence if usable else 0.0
    for index, hyp in usable:
        if index and hyp.confidence < top_conf - 0.15:
            continue  # far behind the leader: it informs the Critic, not the plan
        for position, action_type in enumerate(POLICY.get(hyp.fault, ("escalate",))):
            if action_type == "escalate":
                continue  # added once, last
            candidate = _candidate(ctx, hyp, index, action_type)
            if candidate is None:
                continue
            trust = ctx.playbook_trust.get(f"{hyp.fault}/{action_type}", 0.5)
            weight = PREFERENCE[min(position, len(PREFERENCE) - 1)] * (0.6 + 0.8 * trust)
            score = (10 - index * 3) + weight  # the leading hypothesis first, then preference
            ranked.append((score, len(ranked), candidate))
    ranked.sort(key=lambda item: (-item[0], item[1]))
    candidates = [c for _, _, c in ranked]
    candidates.append(_escalation(hyps[0] if hyps and not diagnosis.abstain else None,
                                  diagnosis))
    followups = followups_for(ctx, hyps[0]) if hyps and not diagnosis.abstain else []
    return ActionPlan(candidates=candidates, followups=followups)


def _escalation(hyp: Hypothesis | None, diagnosis: DiagnosisReport) -> CandidateAction:
    if hyp is None:
        reason = "no hypothesis is confident enough to act on"
        if diagnosis.summary:
            reason += f": {diagnosis.summary}"
    else:
        place = f"{hyp.namespace}/{hyp.service}" if hyp.namespace else hyp.service
        reason = f"{hyp.fault} suspected on {place} (confidence {hyp.confidence:.2f}); " \
            "no safe automatic fix"
    action = Action(type="escalate", params={"reason": reason[:500]})
    return CandidateAction(action=action, hypothesis=0, risk="low", blast_radius=0,
                           rationale="hand the incident to a human with the diagnosis")


def candidate_for(ctx: DebateContext, hyp: Hypothesis, index: int,
                  action_type: str) -> CandidateAction | None:
    """Return one catalogue action for a hypothesis, filled and scored from the evidence."""
    return _candidate(ctx, hyp, index, action_type)


def _candidate(ctx: DebateContext, hyp: Hypothesis, index: int,
               action_type: str) -> CandidateAction | None:
    objects = ctx.evidence.objects
    params: dict[str, Any] = {}
    rationale = ""
    if action_type == "no_action":
        action = Action(type="no_action", params={
            "reason": "no fault found: healthy, recovered or a false alarm"})
        return CandidateAction(action=action, hypothesis=index, risk="low", blast_radius=0,
                               rationale="the evidence shows nothing to fix")
    if action_type in ("cordon_node", "drain_node"):
        if hyp.namespace or (action_type == "drain_node" and wl.find(
                objects, "Node", "", hyp.service) is None):
            return None  # cordoning an unseen node is harmless; draining one is not
        target = f"/node/{hyp.service}"
        rationale = f"keep new pods off node {hyp.service}" if action_type == "cordon_node" \
            else f"move the pods off node {hyp.service}"
    else:
        workload = wl.workload(objects, hyp.namespace, hyp.service)
        if workload is None and action_type in FROM_PODS:
            workload = wl.deployment_from_pods(objects, hyp.namespace, hyp.service)
        if workload is None:
            return None
        kind = str(workload["kind"]).lower()
        target = f"{hyp.namespace}/{kind}/{hyp.service}"
        filled = _fill(ctx, hyp, workload, action_type)
        if filled is None:
            return None
        params, rationale = filled
        if action_type == "set_hpa" and "hpa" in params:
            target = f"{hyp.namespace}/horizontalpodautoscaler/{params.pop('hpa')}"
    action = Action(type=action_type, target=target, params=params)
    blast = blast_radius(action, ctx.evidence, ctx.critical_namespaces)
    return CandidateAction(action=action, hypothesis=index, risk=_risk(blast, hyp),
                           blast_radius=blast, rationale=rationale,
                           kubectl=_kubectl(action, objects))


def _risk(blast: int, hyp: Hypothesis) -> Risk:
    risk = risk_of(blast)
    if hyp.confidence < 0.6 and risk == "low":
        return "medium"  # acting on a shaky diagnosis is never low risk
    return risk


def _fill(ctx: DebateContext, hyp: Hypothesis, workload: dict[str, Any],
          action_type: str) -> tuple[dict[str, Any], str] | None:
    objects = ctx.evidence.objects
    name = hyp.service
    if action_type == "rollout_restart":
        return {}, f"restart {name} to clear its state (buys time, not a cure)"
    if action_type == "rollout_undo":
        return _undo(ctx, hyp, workload)
    replicas = wl.replicas(workload)
    hpa = wl.hpa_for(objects, hyp.namespace, name)
    if hpa is not None:  # the autoscaler, not the manifest, says how many run now
        current = (hpa.get("status") or {}).get("currentReplicas")
        replicas = max(replicas, current) if isinstance(current, int) else replicas
    if action_type == "scale":
        if hpa is not None:
            ceiling = int((hpa.get("spec") or {}).get("maxReplicas") or replicas)
            if replicas >= ceiling:
                return None  # the HPA would scale it straight back: raise the ceiling instead
        new = max(replicas + 1, math.ceil(replicas * 1.5))
        return {"replicas": new}, f"add capacity: {replicas} -> {new} replicas"
    if action_type == "set_hpa":
        if hpa is not None:
            spec = hpa.get("spec") or {}
            low = int(spec.get("minReplicas") or 1)
            high = int(spec.get("maxReplicas") or replicas)
            new_max = max(high + 2, math.ceil(high * 1.5))
            return ({"hpa": hpa["metadata"]["name"], "min_replicas": low,
                     "max_replicas": new_max},
                    f"raise the autoscaling ceiling {high} -> {new_max}")
        high = max(replicas * 2, replicas + 2)
        return ({"min_replicas": max(replicas, 1), "max_replicas": high,
                 "target_cpu_utilization": 70},
                f"autoscale {name} between {max(replicas, 1)} and {high} replicas at 70% CPU")
    if action_type == "set_resources":
        resource = "memory" if hyp.fault in ("memory_limit_too_low", "memory_leak") else "cpu"
        container = wl.oom_container(objects, hyp.namespace, name) if resource == "memory" \
            else None
        container = container or wl.main_container(workload)
        if container is None:
            return None
        current = wl.limit(workload, container, resource) or _limit_from_pods(
            ctx, hyp, container, resource)
        if current is None:
            return None
        raised = wl.scale_quantity(current, 1.5, resource)
        if raised is None:
            return None
        return ({"container": container, "limits": {resource: raised}},
                f"raise the {resource} limit of container {container}: {current} -> {raised}")
    return None


def _undo(ctx: DebateContext, hyp: Hypothesis,
          workload: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    if workload.get("kind") != "Deployment":
        return None
    objects = ctx.evidence.objects
    revisions = wl.revisions(objects, workload)
    if len(revisions) < 2:
        return _undo_from_changes(ctx, hyp)
    current = wl.revision_of(workload)
    known = all(r.revision > 0 for r in revisions)
    if known:
        ordered = sorted(revisions, key=lambda r: r.revision)
        newest = ordered[-1]
        # a revision an earlier rollback left is what broke before: never go back to it
        undone = rolled_back_from(objects, wl.meta(workload).get("namespace", ""),
                                  str(wl.meta(workload).get("name", "")))
        previous = [r for r in ordered if r.revision < (current or newest.revision)
                    and r.revision not in undone]
    else:  # no revision annotations: the ReplicaSets' age and health tell the story
        ordered = sorted(revisions, key=lambda r: (r.created, r.ready == 0))
        newest = ordered[-1]
        previous = [r for r in ordered if r is not newest]
    if not previous:
        return None
    healthy = [r for r in previous if r.ready > 0] or previous
    last_good = healthy[-1]
    if hyp.fault in ("config_error", "probe_failure"):
        # only when the config or probe change came with the new revision
        changed = wl.template_diff(last_good.template, newest.template)
        rolled = wl.recent_change(ctx.evidence.changes, hyp.namespace, hyp.service,
                                  ctx.evidence.now)
        wanted = {"config_error": ("env", "config", "volume", "args", "command"),
                  "probe_failure": ("probe",)}[hyp.fault]
        # a rollout stuck on it: the new revision never got a pod ready while the old serves
        stuck = newest is not last_good and newest.desired > 0 and newest.ready == 0 \
            and last_good.ready > 0
        if not stuck and not any(w in c for c in changed for w in wanted) and not (
                rolled is not None and any(w in rolled.description.lower() for w in wanted)):
            return None
    params: dict[str, Any] = {"to_revision": last_good.revision} if known else {}
    label = f"revision {last_good.revision}" if known else f"ReplicaSet {last_good.name}"
    return (params, f"roll {hyp.service} back to {label} "
            f"({last_good.image or 'previous template'}), the last healthy one before the fault")


def _undo_from_changes(ctx: DebateContext,
                       hyp: Hypothesis) -> tuple[dict[str, Any], str] | None:
    """Without ReplicaSet history, a recent deploy in the change feed still says what to undo."""
    change = wl.recent_change(ctx.evidence.changes, hyp.namespace, hyp.service,
                              ctx.evidence.now)
    if change is None or change.kind != "deploy":
        return None  # a ConfigMap edit makes no new revision: there is nothing to roll back
    text = change.description.lower()
    if hyp.fault == "config_error" and not any(w in text for w in ("config", "env", "flag",
                                                                    "setting", "args")):
        return None
    if hyp.fault == "probe_failure" and "probe" not in text:
        return None
    return {}, f"undo the deploy of {change.time:%H:%M} ({change.description[:120]})"


def _limit_from_pods(ctx: DebateContext, hyp: Hypothesis, container: str,
                     resource: str) -> str | None:
    """Read the current limit from the pods' own specs, else from what logs and events say."""
    pods = wl.pods_of(ctx.evidence.objects, hyp.namespace, hyp.service)
    for pod in pods:
        found = wl.limit(pod, container, resource)
        if found:
            return found
    if resource != "memory":
        return None
    names = {wl.meta(p).get("name") for p in pods}
    lines = [line for stream in ctx.evidence.logs if stream.pod in names
             and stream.container in ("", container) for line in stream.lines]
    lines += [str(o.get("message", "")) for o in ctx.evidence.objects if o.get("kind") == "Event"
              and (o.get("involvedObject") or {}).get("name") in names]
    return wl.memory_limit_from_text(lines)


def _kubectl(action: Action, objects: list[dict[str, Any]]) -> str:
    try:
        return kubectl_command(action, state={"objects": objects})
    except Exception:  # rendering is a courtesy for humans; the action itself is what counts
        return ""


def followups_for(ctx: DebateContext, hyp: Hypothesis) -> list[FollowUp]:
    """Suggest preventive changes for the top hypothesis (shown to humans, never executed)."""
    objects = ctx.evidence.objects
    ns, name = hyp.namespace, hyp.service
    out: list[FollowUp] = []
    workload = wl.workload(objects, ns, name) if ns else None
    ref = f"{str(workload['kind']).lower()}/{name}" if workload else f"deployment/{name}"
    if workload is not None:
        replicas = wl.replicas(workload)
        container = wl.main_container(workload) or name
        if hyp.fault in ("cpu_saturation", "traffic_surge") and wl.hpa_for(
                objects, ns, name) is None:
            out.append(FollowUp(
                title=f"autoscale {ns}/{name} instead of resizing it by hand", kind="hpa",
                change=f"kubectl -n {ns} autoscale {ref} --min={max(replicas, 2)} "
                f"--max={max(replicas * 3, 6)} --cpu-percent=70"))
        if hyp.fault in ("memory_limit_too_low", "memory_leak", "cpu_saturation"):
            mem = wl.limit(workload, container, "memory")
            req = wl.scale_quantity(mem, 1.0, "memory") if mem else None
            new = wl.scale_quantity(mem, 1.5, "memory") if mem else None
            if new and req:
                out.append(FollowUp(
                    title=f"set memory requests equal to the new limit on {container}",
                    kind="resources",
                    change=f"kubectl -n {ns} set resources {ref} -c {container} "
                    f"--requests=memory={new} --limits=memory={new}"))
            elif wl.limit(workload, container, "cpu") is None:
                out.append(FollowUp(
                    title=f"give {container} resource requests and limits", kind="resources",
                    change=f"kubectl -n {ns} set resources {ref} -c {container} "
                    "--requests=cpu=250m,memory=256Mi --limits=cpu=1,memory=512Mi"))
        if hyp.fault in ("probe_failure", "memory_leak", "bad_deploy") or not wl.has_probe(
                workload, container, "readinessProbe"):
            out.append(FollowUp(
                title=f"give {container} a readiness probe with a startup grace period",
                kind="probes",
                change=f"kubectl -n {ns} patch {ref} --type=strategic -p "
                f"'{{\"spec\":{{\"template\":{{\"spec\":{{\"containers\":[{{\"name\":"
                f"\"{container}\",\"readinessProbe\":{{\"initialDelaySeconds\":10,"
                f"\"periodSeconds\":5,\"failureThreshold\":6}}}}]}}}}}}}}'"))
    if hyp.fault == "database_saturation":
        callers = [a for a, b in ctx.evidence.topology if b == name]
        who = ", ".join(sorted(set(callers))) or "its clients"
        out.append(FollowUp(
            title=f"cap the connection pools of {who} below {name}'s max_connections",
            kind="connection_pool",
            change=f"kubectl -n {ns or 'default'} set env deployment/{(callers or ['CLIENT'])[0]} "
            "DB_POOL_MAX_SIZE=20 DB_POOL_TIMEOUT_SECONDS=5"))
    if hyp.fault in ("external_dependency", "network_latency", "dns_failure"):
        callers = sorted({a for a, b in ctx.evidence.topology if b == name}) or [name]
        host = name if not ns else f"{name}.{ns}.svc.cluster.local"
        out.append(FollowUp(
            title=f"add a circuit breaker with timeouts in front of {name}",
            kind="circuit_breaker",
            change="apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
            f"metadata: {{name: {name.replace('.', '-')}-breaker, namespace: "
            f"{ns or wl.namespace_of(objects, callers[0]) or 'default'}}}\n"
            f"spec:\n  host: {host}\n  trafficPolicy:\n    connectionPool: {{http: "
            "{http1MaxPendingRequests: 100, maxRequestsPerConnection: 10}}\n"
            "    outlierDetection: {consecutive5xxErrors: 5, interval: 30s, "
            "baseEjectionTime: 60s}"))
    return out
