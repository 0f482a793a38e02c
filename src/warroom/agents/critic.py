"""Rule Critic: three questions put to the top plan, each answer with a severity.

What else could explain this? What evidence is missing? What could this action break?
A critical challenge rejects the plan.
"""

from __future__ import annotations

from typing import Any

from warroom.agents import workloads as wl
from warroom.agents.models import (
    ActionPlan,
    CandidateAction,
    Challenge,
    CriticReport,
    DiagnosisReport,
    Severity,
)
from warroom.agents.ports import DebateContext
from warroom.safety.rules import is_database_name, node_healthy, parse_target

CORE_SENSORS = ("kubernetes", "metrics")
MUTATING = frozenset({"rollout_restart", "rollout_undo", "scale", "set_resources", "delete_pod",
                      "cordon_node", "drain_node", "set_hpa"})


NOTHING_FOUND: dict[Any, str] = {
    "alternative": "no other hypothesis is credible enough to compete",
    "missing_evidence": "every sensor answered and the target has evidence",
    "breakage": "the action changes nothing a running workload depends on",
}


class RuleCritic:
    """Challenge the plan by rules; any critical challenge rejects."""

    name = "rules"

    async def critique(self, ctx: DebateContext, diagnosis: DiagnosisReport,
                       plan: ActionPlan) -> CriticReport:
        """Answer the three questions for the plan's first candidate."""
        return critique(ctx, diagnosis, plan)


def critique(ctx: DebateContext, diagnosis: DiagnosisReport, plan: ActionPlan) -> CriticReport:
    """Return the challenges and the vote (pure function)."""
    if not plan.candidates:
        return CriticReport(vote="abstain", challenges=[Challenge(
            question="missing_evidence", text="there is no plan to challenge",
            severity="warning")])
    top = plan.candidates[0]
    challenges = (_alternatives(diagnosis, top) + _missing(ctx, diagnosis, top)
                  + _breakage(ctx, top))
    answered = {c.question for c in challenges}
    for question, text in NOTHING_FOUND.items():
        if question not in answered:  # every question gets an answer, even "nothing"
            challenges.append(Challenge(question=question, text=text, severity="info"))
    vote = "reject" if any(c.severity == "critical" for c in challenges) else "approve"
    return CriticReport(vote=vote, challenges=challenges)


def _alternatives(diagnosis: DiagnosisReport, top: CandidateAction) -> list[Challenge]:
    hyps = diagnosis.hypotheses
    if not hyps:
        return [Challenge(question="alternative", severity="info",
                          text="no hypothesis at all: anything could explain this")]
    lead = hyps[min(top.hypothesis, len(hyps) - 1)]
    out = []
    for other in hyps[:4]:
        if other is lead or other.confidence < 0.2:
            continue
        gap = lead.confidence - other.confidence
        same_place = (other.namespace, other.service) == (lead.namespace, lead.service)
        where = f"{other.namespace}/{other.service}" if other.namespace else other.service
        text = (f"{other.fault} on {where} (confidence {other.confidence:.2f}, "
                f"{gap:+.2f} behind) would explain it too")
        if gap <= 0.02 and not same_place and top.action.type in MUTATING:
            severity = "critical"  # a coin toss between two different targets
            text += ": acting on one may leave the real cause untouched"
        elif gap < 0.15:
            severity = "warning"
        else:
            severity = "info"
        out.append(Challenge(question="alternative", text=text, severity=severity))
    return out


def _missing(ctx: DebateContext, diagnosis: DiagnosisReport,
             top: CandidateAction) -> list[Challenge]:
    out = []
    runs = {r.sensor: r for r in ctx.evidence.sensors}
    for run in ctx.evidence.sensors:
        if run.status in ("error", "timeout"):
            out.append(Challenge(question="missing_evidence", severity="warning",
                                 text=f"sensor {run.sensor} {run.status}: {run.error or ''}"
                                 .strip()))
    for name in CORE_SENSORS:
        if name in runs and runs[name].status == "empty":
            out.append(Challenge(question="missing_evidence", severity="warning",
                                 text=f"sensor {name} found nothing: {runs[name].note}"))
    if not ctx.evidence.sensors:
        out.append(Challenge(question="missing_evidence", severity="warning",
                             text="no sensor was asked: the diagnosis rests on the alerts only"))
    target = parse_target(top.action.target) if top.action.target else None
    if target is not None and target.kind != "node":
        objects = ctx.evidence.objects
        if top.action.type in MUTATING and wl.workload(
                objects, target.namespace, target.name) is None and target.kind \
                not in ("horizontalpodautoscaler", "pod"):
            if target.kind == "deployment" and wl.deployment_from_pods(
                    objects, target.namespace, target.name) is not None:
                out.append(Challenge(question="missing_evidence", severity="warning",
                                     text=f"{top.action.target} is known only by the pods its "
                                     "ReplicaSet named: their spec stands for its template"))
            else:
                out.append(Challenge(question="missing_evidence", severity="critical",
                                     text=f"{top.action.target} is not in the Kubernetes "
                                     "evidence: acting blind"))
        signals = [s for s in ctx.evidence.series if s.metric.get("service") == target.name
                   or str(s.metric.get("pod", "")).startswith(target.name + "-")]
        if not signals:
            out.append(Challenge(question="missing_evidence", severity="info",
                                 text=f"no metric series for {target.name}: its golden signals "
                                 "before and after cannot be compared"))
        pods = {wl.meta(p).get("name") for p in wl.pods_of(
            objects, target.namespace, target.name)}
        if pods and not any(stream.pod in pods for stream in ctx.evidence.logs):
            out.append(Challenge(question="missing_evidence", severity="info",
                                 text=f"no logs from {target.name}'s {len(pods)} pod(s): "
                                 "the failure's own words are unknown"))
    hyps = diagnosis.hypotheses
    if hyps and not hyps[0].evidence:
        out.append(Challenge(question="missing_evidence", severity="warning",
                             text="the leading hypothesis cites no evidence"))
    return out


def _breakage(ctx: DebateContext, top: CandidateAction) -> list[Challenge]:
    action = top.action
    target = parse_target(action.target) if action.target else None
    if target is None:
        return [] if action.type in ("escalate", "no_action") else [Challenge(
            question="breakage", severity="critical", text="the action names no valid target")]
    objects = ctx.evidence.objects
    out: list[Challenge] = []

    def say(severity: Severity, text: str) -> None:
        out.append(Challenge(question="breakage", severity=severity, text=text))

    if target.kind == "node":
        pods = [p for p in objects if p.get("kind") == "Pod"
                and (p.get("spec") or {}).get("nodeName") == target.name]
        node = wl.find(objects, "Node", "", target.name)
        if node is not None and node_healthy(node):
            say("critical", f"node {target.name} reports Ready with no pressure: taking a "
                "healthy node out of service fixes nothing and removes capacity")
        if action.type == "drain_node":
            stateful = [wl.meta(p).get("name") for p in pods if any(
                o.get("kind") == "StatefulSet" for o in wl.meta(p).get("ownerReferences") or [])]
            say("warning", f"draining {target.name} evicts {len(pods)} pods"
                + (f", StatefulSet pods {', '.join(map(str, stateful[:5]))} among them"
                   if stateful else ""))
        else:
            say("info", f"cordoning {target.name} lowers schedulable capacity; "
                "its pods keep running")
        return out
    obj = wl.workload(objects, target.namespace, target.name)
    replicas = wl.replicas(obj) if obj else 1
    if target.kind == "statefulset" or is_database_name(target.name):
        say("critical", f"{target.name} holds state: restarting or resizing it risks data")
    if action.type in ("rollout_restart", "set_resources", "rollout_undo") and replicas <= 1:
        say("warning", f"{target.name} runs {replicas} replica: a rollout means a short outage")
    if action.type == "rollout_restart" and replicas > 1:
        say("info", f"{target.name}'s {replicas} pods restart one at a time; in-memory "
            "state (sessions, caches) is lost")
    if action.type == "rollout_undo":
        say("info", "rolling back also reverts every other change of the newer revision")
    if action.type == "set_resources":
        memory = (action.params.get("limits") or {}).get("memory")
        biggest = _largest_node_memory_mib(objects)
        wanted = _mib(str(memory)) if memory else None
        if wanted is not None and biggest is not None and wanted > biggest:
            say("critical", f"a {memory} limit is more than any node can allocate "
                f"({biggest} Mi): the pods would never schedule")
        else:
            say("info", "pods restart one by one to pick up the new limits")
    if action.type in ("scale", "set_hpa"):
        callees = [b for a, b in ctx.evidence.topology if a == target.name]
        dbs = [c for c in callees if is_database_name(c)]
        if dbs:
            say("warning", f"more {target.name} replicas mean more connections to "
                f"{', '.join(dbs)}")
        wanted = action.params.get("replicas") or action.params.get("max_replicas")
        room = _pod_room(objects, target.namespace)
        if isinstance(wanted, int) and room is not None and wanted - replicas > room:
            say("critical", f"namespace {target.namespace}'s ResourceQuota leaves room for "
                f"{room} more pod(s), the action wants {wanted - replicas}: the new pods "
                "would be refused")
    return out


def _pod_room(objects: list[dict[str, Any]], namespace: str) -> int | None:
    """Return how many more pods the namespace's quotas allow (None: no pod quota)."""
    rooms = []
    for quota in objects:
        if quota.get("kind") != "ResourceQuota" or wl.meta(quota).get("namespace") != namespace:
            continue
        status = quota.get("status") or {}
        hard = (status.get("hard") or (quota.get("spec") or {}).get("hard") or {}).get("pods")
        used = (status.get("used") or {}).get("pods", "0")
        try:
            rooms.append(int(str(hard)) - int(str(used)))
        except ValueError:
            continue
    return min(rooms) if rooms else None


def _mib(quantity: str) -> float | None:
    scaled = wl.scale_quantity(quantity, 1.0, "memory")
    if scaled is None:
        return None
    return float(scaled[:-2]) * (1024 if scaled.endswith("Gi") else 1)


def _largest_node_memory_mib(objects: list[dict[str, Any]]) -> float | None:
    sizes = []
    for node in objects:
        if node.get("kind") != "Node":
            continue
        alloc = (node.get("status") or {}).get("allocatable") or {}
        mem = alloc.get("memory")
        if mem:
            mib = _mib(str(mem))
            if mib is not None:
                sizes.append(mib)
    return max(sizes) if sizes else None
