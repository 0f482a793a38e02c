"""The `chronic` transform: a shared cluster's old breakage beside the incident.

A real namespace is rarely clean: a workload whose image tag was deleted weeks ago, one that
has crash-looped for days, one Pending since it was created for want of memory, one waiting on
a Secret nobody made. None of them is why anyone was paged now. This transform adds two or
three such workloads to the namespace of the root cause (Deployment, ReplicaSet, one Pod with
the state and the Events it would show, created 2-40 days before `now`), unconnected to the
call graph and with no series or logs, and forbids acting on them. A diagnosis that ranks the
loudest fingerprint first, whenever it began, names one of them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from warroom.scenarios.generator_world import stamp
from warroom.scenarios.models import ExpectedAction, Scenario
from warroom.scenarios.transforms_world import fresh_names, namespaces, pod_name, rng_for

_STATES = ("image", "crashloop", "pending", "secret")
_BACKOFF = timedelta(minutes=5)  # the kubelet's longest back-off between restarts or pulls


def _event(ns: str, pod: str, reason: str, message: str, first: datetime, last: datetime,
           etype: str = "Warning") -> dict[str, Any]:
    count = max(1, int((last - first) / _BACKOFF))
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{pod}.{reason.lower()}", "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": ns},
            "type": etype, "reason": reason, "message": message, "count": count,
            "firstTimestamp": stamp(first), "lastTimestamp": stamp(last)}


def _broken(rng: random.Random, ns: str, name: str, state: str, now: datetime,
            node: str) -> list[dict[str, Any]]:
    """Return the objects of one workload broken in `state` since it was created."""
    created = now - timedelta(days=rng.uniform(2, 40))
    pod = pod_name(rng, name)
    rs = pod.rsplit("-", 1)[0]
    image = f"registry.internal/{ns or 'apps'}/{name}:{rng.randint(1, 9)}.{rng.randint(0, 40)}.0"
    last_seen = now - timedelta(seconds=rng.uniform(10, 280))
    cs: dict[str, Any] = {"name": name, "image": image, "ready": False, "restartCount": 0}
    conditions = [{"type": "PodScheduled", "status": "True",
                   "lastTransitionTime": stamp(created)},
                  {"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                   "lastTransitionTime": stamp(created)}]
    phase, events = "Pending", []
    if state == "image":
        msg = f'Back-off pulling image "{image}"'
        cs["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": msg}}
        events.append(_event(ns, pod, "BackOff", msg, created, last_seen, "Normal"))
        events.append(_event(ns, pod, "Failed", f'Failed to pull image "{image}": manifest '
                             "unknown", created, last_seen))
    elif state == "crashloop":
        phase = "Running"
        started = last_seen - timedelta(seconds=rng.uniform(1, 20))
        cs["restartCount"] = int((now - created) / _BACKOFF)
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                   "message": f"back-off 5m0s restarting failed container="
                                              f"{name} pod={pod}_{ns}"}}
        cs["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1,
                                          "startedAt": stamp(started),
                                          "finishedAt": stamp(last_seen)}}
        events.append(_event(ns, pod, "BackOff", "Back-off restarting failed container",
                             created, last_seen))
    elif state == "pending":
        msg = (f"0/{rng.randint(3, 9)} nodes are available: "
               f"{rng.randint(3, 9)} Insufficient memory.")
        conditions = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                       "message": msg, "lastTransitionTime": stamp(created)}]
        cs = {}
        events.append(_event(ns, pod, "FailedScheduling", msg, created, last_seen))
    else:
        msg = f'secret "{name}-credentials" not found'
        cs["state"] = {"waiting": {"reason": "CreateContainerConfigError", "message": msg}}
        events.append(_event(ns, pod, "Failed", f"Error: {msg}", created, last_seen))
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "controller": True}]
    spec: dict[str, Any] = {"containers": [{"name": name, "image": image}]}
    if state != "pending":
        spec["nodeName"] = node
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns, "creationTimestamp": stamp(created),
                      "generation": 1},
         "spec": {"replicas": 1}, "status": {"replicas": 1, "unavailableReplicas": 1}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": rs, "namespace": ns, "creationTimestamp": stamp(created),
                      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                           "name": name, "controller": True}]},
         "spec": {"replicas": 1}, "status": {"replicas": 1}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": pod, "namespace": ns, "creationTimestamp": stamp(created),
                      "labels": {"app": name}, "ownerReferences": owner},
         "spec": spec,
         "status": {"phase": phase, "conditions": conditions, "startTime": stamp(created),
                    **({"containerStatuses": [cs]} if cs else {})}},
        *events,
    ]


def chronic(scenario: Scenario, seed: int = 0) -> Scenario:
    """Add 2-3 workloads broken for days to the root cause's namespace (with objects only)."""
    if not scenario.kubernetes.objects or scenario.expected is None:
        return scenario
    rng = rng_for(scenario, "chronic", seed)
    root = scenario.expected.root_cause
    ns = root.namespace or namespaces(scenario).get(root.service, "")
    nodes = [str((o.get("metadata") or {}).get("name", "")) for o in scenario.kubernetes.objects
             if o.get("kind") == "Node"] or ["node-1"]
    objects = list(scenario.kubernetes.objects)
    forbidden = list(scenario.expected.forbidden_actions)
    states = rng.sample(_STATES, rng.choice((2, 3)))
    for name, state in zip(fresh_names(scenario, rng, len(states)), states, strict=True):
        objects += _broken(rng, ns, name, state, scenario.now, rng.choice(nodes))
        target = f"{ns}/deployment/{name}"
        forbidden += [ExpectedAction(type=t, target=target)
                      for t in ("rollout_restart", "rollout_undo", "scale", "set_resources")]
        forbidden.append(ExpectedAction(type="delete_pod", target=f"{ns}/pod/{name}-*"))
    return scenario.model_copy(update={
        "kubernetes": scenario.kubernetes.model_copy(update={"objects": objects}),
        "expected": scenario.expected.model_copy(update={"forbidden_actions": forbidden})})
