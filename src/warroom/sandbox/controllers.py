"""The control loops of the sandbox cluster: deployments, ReplicaSets, StatefulSets, the
scheduler, the kubelet's container lifecycle, the node lifecycle and the HPA.

They do what Kubernetes does, with simulated time: a changed pod template makes a new
ReplicaSet revision and a rolling update; containers start after a delay, crash, back off and
restart with their `lastState`; pods on a node that stops reporting become `Unknown` and are
evicted after the toleration.
"""

from __future__ import annotations

import copy
import math
import random
from datetime import datetime
from typing import Any

from warroom.sandbox.events import Events
from warroom.sandbox.kubelet import Kubelet
from warroom.sandbox.model import (
    Obj,
    ObjectStore,
    cpu_cores,
    mem_bytes,
    owner_ref,
    rfc3339,
    template_hash,
)
from warroom.sandbox.status import REVISION, REVISION_HISTORY, publish_status, revision

EVICTION_TOLERATION_S = 300.0


class Controllers:
    """Every control loop, run once per tick in the order Kubernetes converges."""

    def __init__(self, store: ObjectStore, events: Events, kubelet: Kubelet, seed: int) -> None:
        self.store = store
        self.events = events
        self.kubelet = kubelet
        self.rng = random.Random(seed)
        self.node_down_since: dict[str, datetime] = {}
        self.cpu_utilization: dict[tuple[str, str], float] = {}  # of request, from traffic
        self.rollouts: dict[tuple[str, str], tuple[datetime, bool]] = {}  # started, completed

    def reconcile(self, now: datetime, dt: float) -> None:
        """Run one round of every loop."""
        self.nodes(now)
        self.hpas(now)
        for deployment in self.store.list("Deployment"):
            self.deployment(deployment, now)
        for replicaset in self.store.list("ReplicaSet"):
            self.replicaset(replicaset, now)
        for statefulset in self.store.list("StatefulSet"):
            self.statefulset(statefulset, now)
        self.schedule(now)
        for pod in self.store.list("Pod"):
            self.kubelet.step(pod, now, dt, node_ready=self.node_ready(pod["spec"].get(
                "nodeName")))
        publish_status(self.store, self.kubelet, self.rollouts, now)

    # nodes --------------------------------------------------------------------------------
    def node_ready(self, name: str | None) -> bool:
        """Tell whether a node is up (pods without a node count as not on a dead node)."""
        return name is None or name not in self.node_down_since

    def nodes(self, now: datetime) -> None:
        """Publish node conditions, and evict pods from nodes down past the toleration."""
        for node in self.store.list("Node"):
            name = node["metadata"]["name"]
            down = self.node_down_since.get(name)
            stamp = rfc3339(down or now)
            ready = {"type": "Ready", "status": "True", "reason": "KubeletReady",
                     "message": "kubelet is posting ready status", "lastTransitionTime": stamp,
                     "lastHeartbeatTime": rfc3339(now)}
            if down is not None:
                ready.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.",
                             lastHeartbeatTime=rfc3339(down))
            pressure = self.kubelet.node_pressure.get(name, set())
            conditions = [ready]
            for kind in ("MemoryPressure", "DiskPressure", "PIDPressure"):
                on = kind in pressure
                conditions.append({
                    "type": kind, "status": "True" if on else "False",
                    "reason": f"Kubelet{'Has' if on else 'HasNo'}{kind.replace('Pressure', '')}"
                              f"Pressure" if kind != "PIDPressure" else "KubeletHasSufficientPID",
                    "message": f"kubelet has {'' if on else 'no '}{kind.lower()}",
                    "lastTransitionTime": stamp, "lastHeartbeatTime": ready["lastHeartbeatTime"],
                })
            node["status"]["conditions"] = conditions
            taints = [t for t in node["spec"].get("taints", [])
                      if t.get("key") != "node.kubernetes.io/unreachable"]
            if down is not None:
                taints.append({"key": "node.kubernetes.io/unreachable", "effect": "NoExecute",
                               "timeAdded": rfc3339(down)})
            if taints:
                node["spec"]["taints"] = taints
            else:
                node["spec"].pop("taints", None)
            if down is not None and (now - down).total_seconds() >= EVICTION_TOLERATION_S:
                for pod in self.store.list("Pod"):
                    if pod["spec"].get("nodeName") == name:
                        self.events.record(pod, "TaintManagerEviction",
                                           "Marking for deletion Pod "
                                           f"{pod['metadata']['namespace']}/"
                                           f"{pod['metadata']['name']}", now,
                                           component="taint-eviction-controller")
                        self.kubelet.forget(pod)
                        self.store.delete("Pod", pod["metadata"]["name"],
                                          pod["metadata"]["namespace"])

    # autoscaling --------------------------------------------------------------------------
    def hpas(self, now: datetime) -> None:
        """Scale each HPA's target toward its CPU target, within min and max."""
        for hpa in self.store.list("HorizontalPodAutoscaler"):
            spec, namespace = hpa["spec"], hpa["metadata"]["namespace"]
            ref = spec["scaleTargetRef"]
            target = self.store.get(ref["kind"], ref["name"], namespace)
            if target is None:
                continue
            current = int(target["spec"].get("replicas", 1))
            goal = 80
            for metric in spec.get("metrics", []):
                if metric.get("resource", {}).get("name") == "cpu":
                    goal = int(metric["resource"]["target"].get("averageUtilization", 80))
            used = self.cpu_utilization.get((namespace, ref["name"]))
            desired = current
            if used is not None:
                ratio = used * 100 / goal
                if ratio > 1.1 or ratio < 0.5:
                    desired = max(1, math.ceil(current * ratio))
            low, high = int(spec.get("minReplicas", 1)), int(spec["maxReplicas"])
            limited = desired > high
            desired = min(max(desired, low), high)
            if desired != current:
                target["spec"]["replicas"] = desired
                target["metadata"]["resourceVersion"] = self.store.next_version()
                self.events.record(hpa, "SuccessfulRescale", f"New size: {desired}; reason: cpu "
                                   "resource utilization (percentage of request) above target"
                                   if desired > current else f"New size: {desired}; reason: All "
                                   "metrics below target", now,
                                   component="horizontal-pod-autoscaler")
            hpa["status"] = {
                "currentReplicas": current, "desiredReplicas": desired,
                "lastScaleTime": hpa.get("status", {}).get("lastScaleTime", rfc3339(now))
                if desired == current else rfc3339(now),
                "currentMetrics": [] if used is None else [{"type": "Resource", "resource": {
                    "name": "cpu", "current": {"averageUtilization": round(used * 100)}}}],
                "conditions": [
                    {"type": "AbleToScale", "status": "True", "reason": "ReadyForNewScale",
                     "lastTransitionTime": rfc3339(now)},
                    {"type": "ScalingLimited", "status": "True" if limited else "False",
                     "reason": "TooManyReplicas" if limited else "DesiredWithinRange",
                     "message": "the desired replica count is more than the maximum replica "
                                "count" if limited else "the desired count is within the "
                                "acceptable range", "lastTransitionTime": rfc3339(now)},
                ],
            }

    # workloads ----------------------------------------------------------------------------
    def deployment(self, deployment: Obj, now: datetime) -> None:
        """Keep one ReplicaSet per template revision and roll from old to new."""
        meta, spec = deployment["metadata"], deployment["spec"]
        namespace, name = meta["namespace"], meta["name"]
        template = spec["template"]
        digest = template_hash(template)
        owned = self.store.owned_by("ReplicaSet", deployment)
        latest = max((revision(rs) for rs in owned), default=0)
        current = next((rs for rs in owned
                        if rs["metadata"]["labels"].get("pod-template-hash") == digest), None)
        if current is None:
            labels = {**template.get("metadata", {}).get("labels", {}),
                      "pod-template-hash": digest}
            rs_template = {**template, "metadata": {**template.get("metadata", {}),
                                                    "labels": labels}}
            current = self.store.put({
                "kind": "ReplicaSet",
                "metadata": {"name": f"{name}-{digest}", "namespace": namespace,
                             "labels": labels, "ownerReferences": [owner_ref(deployment)],
                             "annotations": {REVISION: str(latest + 1),
                                             "deployment.kubernetes.io/desired-replicas":
                                                 str(spec.get("replicas", 1))}},
                "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                         "template": rs_template},
                "status": {"replicas": 0},
            }, now)
            self.rollouts[(namespace, name)] = (now, False)
        elif revision(current) != latest:
            # a rollback re-adopts the old ReplicaSet; like Kubernetes, it keeps its old numbers
            annotations = current["metadata"]["annotations"]
            history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
            annotations[REVISION_HISTORY] = ",".join([*history, annotations[REVISION]])
            annotations[REVISION] = str(latest + 1)
            self.rollouts[(namespace, name)] = (now, False)
        meta.setdefault("annotations", {})[REVISION] = str(revision(current))
        desired = int(spec.get("replicas", 1))
        self._scale_rs(deployment, current, desired, now)
        old = sorted((rs for rs in self.store.owned_by("ReplicaSet", deployment)
                      if rs is not current), key=revision, reverse=True)
        ready_new = int(current.get("status", {}).get("readyReplicas", 0))
        budget = max(0, desired - ready_new - math.floor(desired * 0.25))
        for rs in old:
            keep = min(int(rs["spec"].get("replicas", 0)), budget)
            budget -= keep
            self._scale_rs(deployment, rs, keep, now)

    def _scale_rs(self, owner: Obj, rs: Obj, replicas: int, now: datetime) -> None:
        before = int(rs["spec"].get("replicas", 0))
        if before == replicas:
            return
        rs["spec"]["replicas"] = replicas
        rs["metadata"]["resourceVersion"] = self.store.next_version()
        verb = "up" if replicas > before else "down"
        self.events.record(owner, "ScalingReplicaSet", f"Scaled {verb} replica set "
                           f"{rs['metadata']['name']} from {before} to {replicas}", now,
                           component="deployment-controller")

    def replicaset(self, rs: Obj, now: datetime) -> None:
        """Create or delete pods until the ReplicaSet has its replicas."""
        pods = self.store.owned_by("Pod", rs)
        want = int(rs["spec"].get("replicas", 0))
        name = rs["metadata"]["name"]
        while len(pods) < want:
            suffix = "".join(self.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
            pods.append(self.create_pod(rs, f"{name}-{suffix}", rs["spec"]["template"], now))
        if len(pods) > want:
            victims = sorted(pods, key=lambda p: (self.kubelet.is_ready(p),
                                                  p["metadata"]["creationTimestamp"]))
            for pod in victims[: len(pods) - want]:
                self.delete_pod(pod, now, reason="scale down")

    def statefulset(self, sts: Obj, now: datetime) -> None:
        """Keep ordinal pods, replacing one out-of-date pod at a time."""
        meta, spec = sts["metadata"], sts["spec"]
        digest = f"{meta['name']}-{template_hash(spec['template'])}"
        sts.setdefault("status", {})["updateRevision"] = digest
        want = int(spec.get("replicas", 1))
        for index in range(want):
            pod_name = f"{meta['name']}-{index}"
            if self.store.get("Pod", pod_name, meta["namespace"]) is None:
                template = {**spec["template"], "metadata": {
                    **spec["template"].get("metadata", {}),
                    "labels": {**spec["template"].get("metadata", {}).get("labels", {}),
                               "controller-revision-hash": digest,
                               "statefulset.kubernetes.io/pod-name": pod_name}}}
                self.create_pod(sts, pod_name, template, now)
        pods = self.store.owned_by("Pod", sts)
        for pod in pods:
            ordinal = int(pod["metadata"]["name"].rsplit("-", 1)[1])
            if ordinal >= want:
                self.delete_pod(pod, now, reason="scale down")
        stale = [p for p in pods if p["metadata"]["labels"].get("controller-revision-hash")
                 != digest and self.store.get("Pod", p["metadata"]["name"], meta["namespace"])]
        if stale and all(self.kubelet.is_ready(p) for p in pods):
            self.delete_pod(max(stale, key=lambda p: p["metadata"]["name"]), now,
                            reason="update")

    def create_pod(self, owner: Obj, name: str, template: Obj, now: datetime) -> Obj:
        """Create a pending pod from a template, owned by a controller."""
        meta = template.get("metadata", {})
        pod = self.store.put({
            "kind": "Pod",
            "metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                         "labels": dict(meta.get("labels", {})),
                         "annotations": dict(meta.get("annotations", {})),
                         "ownerReferences": [owner_ref(owner)]},
            "spec": {**_copy(template.get("spec", {})), "schedulerName": "default-scheduler"},
            "status": {"phase": "Pending", "qosClass": "Burstable"},
        }, now)
        self.events.record(owner, "SuccessfulCreate", f"Created pod: {name}", now,
                           component=f"{owner['kind'].lower()}-controller")
        return pod

    def delete_pod(self, pod: Obj, now: datetime, *, reason: str = "") -> None:
        """Delete a pod at once (the sandbox skips the grace period)."""
        container = pod["spec"]["containers"][0]["name"]
        if pod["spec"].get("nodeName"):
            self.events.record(pod, "Killing", f"Stopping container {container}", now)
        self.kubelet.forget(pod)
        self.store.delete("Pod", pod["metadata"]["name"], pod["metadata"]["namespace"])

    # scheduling ---------------------------------------------------------------------------
    def schedule(self, now: datetime) -> None:
        """Bind pending pods to the least loaded node that fits, or say why none does."""
        nodes = self.store.list("Node")
        pods = self.store.list("Pod")
        used: dict[str, list[float]] = {n["metadata"]["name"]: [0.0, 0.0, 0] for n in nodes}
        for pod in pods:
            node = pod["spec"].get("nodeName")
            if node in used:
                cpu, memory = _requests(pod)
                used[node][0] += cpu
                used[node][1] += memory
                used[node][2] += 1
        for pod in pods:
            if pod["spec"].get("nodeName"):
                continue
            cpu, memory = _requests(pod)
            selector = pod["spec"].get("nodeSelector") or {}
            reasons: dict[str, int] = {}
            fits = []
            for node in nodes:
                name = node["metadata"]["name"]
                alloc = node["status"]["allocatable"]
                why = None
                if node["spec"].get("unschedulable"):
                    why = "node(s) were unschedulable"
                elif name in self.node_down_since:
                    why = "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
                elif any(node["metadata"]["labels"].get(k) != v for k, v in selector.items()):
                    why = "node(s) didn't match Pod's node affinity/selector"
                elif used[name][0] + cpu > cpu_cores(alloc["cpu"]):
                    why = "Insufficient cpu"
                elif used[name][1] + memory > mem_bytes(alloc["memory"]):
                    why = "Insufficient memory"
                if why:
                    reasons[why] = reasons.get(why, 0) + 1
                else:
                    fits.append(name)
            if not fits:
                detail = ", ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
                message = (f"0/{len(nodes)} nodes are available: {detail}. preemption: 0/"
                           f"{len(nodes)} nodes are available: {len(nodes)} Preemption is not "
                           "helpful for scheduling.")
                pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                                "reason": "Unschedulable", "message": message,
                                                "lastTransitionTime": rfc3339(now)}]
                self.events.record(pod, "FailedScheduling", message, now, warning=True,
                                   component="default-scheduler")
                continue
            chosen = min(fits, key=lambda n: (used[n][2], n))
            used[chosen][0] += cpu
            used[chosen][1] += memory
            used[chosen][2] += 1
            pod["spec"]["nodeName"] = chosen
            where = f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
            self.events.record(pod, "Scheduled", f"Successfully assigned {where} to {chosen}", now,
                               component="default-scheduler")
            self.kubelet.admit(pod, now)

def _requests(pod: Obj) -> tuple[float, float]:
    cpu = memory = 0.0
    for container in pod["spec"].get("containers", []):
        requests = container.get("resources", {}).get("requests", {})
        cpu += cpu_cores(requests.get("cpu", "0"))
        memory += mem_bytes(requests.get("memory", "0"))
    return cpu, memory


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)
