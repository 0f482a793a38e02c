"""The status the controllers publish: ReplicaSets', Deployments' and StatefulSets'."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from warroom.sandbox.kubelet import Kubelet
from warroom.sandbox.model import Obj, ObjectStore, rfc3339

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
Rollouts = dict[tuple[str, str], tuple[datetime, bool]]  # started, completed since


def revision(obj: Obj) -> int:
    """Return the revision annotation of a Deployment or ReplicaSet."""
    return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))


def publish_status(store: ObjectStore, kubelet: Kubelet, rollouts: Rollouts,
                   now: datetime) -> None:
    """Write every workload's status from its pods, as the controllers do after a round."""
    for replicaset in store.list("ReplicaSet"):
        _rs_status(replicaset, store, kubelet)
    for deployment in store.list("Deployment"):
        _deployment_status(deployment, store, rollouts, now)
    for statefulset in store.list("StatefulSet"):
        _sts_status(statefulset, store, kubelet)


# status -------------------------------------------------------------------------------
def _rs_status(rs: Obj, store: ObjectStore, kubelet: Kubelet) -> None:
    pods = store.owned_by("Pod", rs)
    ready = sum(kubelet.is_ready(p) for p in pods)
    rs["status"] = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                    "readyReplicas": ready, "availableReplicas": ready,
                    "observedGeneration": rs["metadata"].get("generation", 1)}

def _deployment_status(deployment: Obj, store: ObjectStore, rollouts: Rollouts,
                       now: datetime) -> None:
    owned = store.owned_by("ReplicaSet", deployment)
    current = max(owned, key=revision, default=None)
    desired = int(deployment["spec"].get("replicas", 1))
    total: int = sum(int(rs["status"].get("replicas", 0)) for rs in owned)
    ready: int = sum(int(rs["status"].get("readyReplicas", 0)) for rs in owned)
    updated = int(current["status"].get("replicas", 0)) if current else 0
    updated_ready = int(current["status"].get("readyReplicas", 0)) if current else 0
    key = (deployment["metadata"]["namespace"], deployment["metadata"]["name"])
    began, done = rollouts.get(key, (now, False))
    complete = updated_ready >= desired and total == desired
    if complete and not done:
        rollouts[key] = (began, True)
    started = rfc3339(began)
    stuck = not (complete or done) and now - began > timedelta(seconds=600)
    progressing = {"type": "Progressing", "status": "False" if stuck else "True",
                   "reason": "ProgressDeadlineExceeded" if stuck else (
                       "NewReplicaSetAvailable" if complete else "ReplicaSetUpdated"),
                   "message": f"ReplicaSet \"{current['metadata']['name'] if current else ''}"
                              f"\" {'has timed out progressing' if stuck else 'is progressing'}"
                              f".", "lastUpdateTime": started, "lastTransitionTime": started}
    available = ready >= desired - math.floor(desired * 0.25)
    deployment["status"] = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": total, "updatedReplicas": updated, "readyReplicas": ready,
        "availableReplicas": ready, "unavailableReplicas": max(0, desired - ready),
        "conditions": [
            {"type": "Available", "status": "True" if available else "False",
             "reason": "MinimumReplicasAvailable" if available else
             "MinimumReplicasUnavailable", "message": "Deployment has minimum availability."
             if available else "Deployment does not have minimum availability.",
             "lastUpdateTime": rfc3339(now), "lastTransitionTime": started},
            progressing,
        ],
    }

def _sts_status(sts: Obj, store: ObjectStore, kubelet: Kubelet) -> None:
    pods = store.owned_by("Pod", sts)
    ready = sum(kubelet.is_ready(p) for p in pods)
    revision_hash = sts["status"].get("updateRevision", "")
    current = len([p for p in pods
                   if p["metadata"]["labels"].get("controller-revision-hash") == revision_hash])
    sts["status"].update({"replicas": len(pods), "readyReplicas": ready,
                          "availableReplicas": ready, "currentReplicas": current,
                          "updatedReplicas": current, "currentRevision": revision_hash,
                          "observedGeneration": sts["metadata"].get("generation", 1)})
