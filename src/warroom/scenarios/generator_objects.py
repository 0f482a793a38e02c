"""Render a generated world as Kubernetes API objects, shaped as the API server returns them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from warroom.scenarios.generator_world import Node, Pod, Workload, World, stamp


def _meta(world: World, name: str, ns: str | None, created: Any, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": world.uid(),
                            "resourceVersion": str(world.rng.randint(10**7, 10**8)),
                            "creationTimestamp": stamp(created)}
    if ns is not None:
        meta["namespace"] = ns
    meta.update(extra)
    return meta


def _container(w: Workload, image: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {
        "name": w.name, "image": image or w.image,
        "ports": [{"name": "http", "containerPort": w.port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": f"{w.cpu_limit_m // 2}m",
                                   "memory": f"{w.mem_limit_mi * 2 // 3}Mi"},
                      "limits": {"cpu": f"{w.cpu_limit_m}m", "memory": f"{w.mem_limit_mi}Mi"}},
    }
    if w.role == "app" or w.role == "dns":
        get = {"path": w.probe_path, "port": w.port, "scheme": "HTTP"}
        probe: dict[str, Any] = {"httpGet": get,
                 "initialDelaySeconds": 5, "timeoutSeconds": w.probe_timeout, "periodSeconds": 10,
                 "successThreshold": 1, "failureThreshold": 3}
        c["readinessProbe"] = probe
        c["livenessProbe"] = {**probe, "httpGet": {**get, "path": "/healthz"}}
    else:
        c["livenessProbe"] = {"tcpSocket": {"port": w.port}, "periodSeconds": 10,
                              "failureThreshold": 6, "timeoutSeconds": 5}
    return c


def _labels(w: Workload) -> dict[str, str]:
    return {"app": w.name, "app.kubernetes.io/name": w.name}


def _pod(world: World, w: Workload, p: Pod) -> dict[str, Any]:
    labels = _labels(w)
    if w.kind == "Deployment":
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                 "name": f"{w.name}-{p.rs_hash or w.rs_hash}", "controller": True}
        labels = {**labels, "pod-template-hash": p.rs_hash or w.rs_hash}
    else:
        owner = {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": w.name,
                 "controller": True}
    image = p.image or w.image
    state = p.state or {"running": {"startedAt": stamp(p.created + timedelta(seconds=8))}}
    cs: dict[str, Any] = {"name": w.name, "image": image, "ready": p.ready,
                          "started": "running" in state, "restartCount": p.restarts,
                          "state": state}
    if p.last_state:
        cs["lastState"] = p.last_state
    if "running" in state:
        cs["containerID"] = f"containerd://{world.uid().replace('-', '')}"
    conds = {"Initialized": ("True", "", ""), "Ready": ("True" if p.ready else "False", "", ""),
             "ContainersReady": ("True" if p.ready else "False", "", ""),
             "PodScheduled": ("True", "", "")}
    conds.update(p.conditions)
    status: dict[str, Any] = {
        "phase": p.phase, "qosClass": "Burstable",
        "conditions": [{"type": t, "status": s, **({"reason": r} if r else {}),
                        **({"message": m} if m else {}),
                        "lastTransitionTime": stamp(p.created)} for t, (s, r, m) in conds.items()],
    }
    if p.phase != "Pending" or p.node:
        status["startTime"] = stamp(p.created)
        status["containerStatuses"] = [cs]
    spec: dict[str, Any] = {"containers": [_container(w, image)], "restartPolicy": "Always",
                            "serviceAccountName": w.name}
    if p.node:
        spec["nodeName"] = p.node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": _meta(world, p.name, w.namespace, p.created, labels=labels,
                              ownerReferences=[owner]),
            "spec": spec, "status": status}


def _workload(world: World, w: Workload) -> list[dict[str, Any]]:
    created = world.now - timedelta(days=world.rng.randint(60, 600))
    ready = sum(1 for p in w.pods if p.ready and not p.old_revision)
    ready_all = sum(1 for p in w.pods if p.ready)
    labels = {**_labels(w), "team": w.team, "app.kubernetes.io/version": w.version}
    template = {"metadata": {"labels": _labels(w)},
                "spec": {"containers": [_container(w)], "serviceAccountName": w.name}}
    objs: list[dict[str, Any]] = []
    if w.kind == "Deployment":
        progressing = ("True", "NewReplicaSetAvailable")
        if any(p.old_revision for p in w.pods):
            progressing = ("True", "ReplicaSetUpdated")
        objs.append({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": _meta(world, w.name, w.namespace, created, labels=labels,
                              annotations={"deployment.kubernetes.io/revision": str(w.revision)},
                              generation=w.revision),
            "spec": {"replicas": w.replicas, "selector": {"matchLabels": {"app": w.name}},
                     "strategy": {"type": "RollingUpdate"}, "template": template},
            "status": {"replicas": len(w.pods), "readyReplicas": ready_all,
                       "availableReplicas": ready_all, "updatedReplicas":
                       sum(1 for p in w.pods if not p.old_revision),
                       "unavailableReplicas": max(0, w.replicas - ready_all),
                       "conditions": [
                           {"type": "Available",
                            "status": "True" if ready_all >= max(1, w.replicas - 1) else "False",
                            "reason": "MinimumReplicasAvailable"
                            if ready_all >= max(1, w.replicas - 1)
                            else "MinimumReplicasUnavailable"},
                           {"type": "Progressing", "status": progressing[0],
                            "reason": progressing[1]}]},
        })
        rsets = [(w.rs_hash, w.revision, w.image), (w.prev_rs_hash, w.revision - 1,
                                                    w.image.replace(w.version, w.prev_version))]
        rsets += w.extra_rs
        for h, rev, image in rsets:
            n = sum(1 for p in w.pods if (p.rs_hash or w.rs_hash) == h)
            born = world.now - timedelta(days=max(0, w.revision - rev) * 3 + 1)
            if h == w.rs_hash and w.rs_created is not None:
                born = w.rs_created
            objs.append({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": _meta(world, f"{w.name}-{h}", w.namespace, born,
                                  labels={**_labels(w), "pod-template-hash": h},
                                  annotations={"deployment.kubernetes.io/revision": str(rev)},
                                  ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment",
                                                    "name": w.name, "controller": True}]),
                "spec": {"replicas": n, "selector": {"matchLabels": {"app": w.name,
                                                                     "pod-template-hash": h}},
                         "template": {**template, "spec": {"containers": [_container(w, image)]}}},
                "status": {"replicas": n, "readyReplicas": sum(
                    1 for p in w.pods if p.ready and (p.rs_hash or w.rs_hash) == h)},
            })
    else:
        objs.append({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": _meta(world, w.name, w.namespace, created, labels=labels),
            "spec": {"replicas": w.replicas, "serviceName": w.name,
                     "selector": {"matchLabels": {"app": w.name}}, "template": template,
                     "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                         "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": f"{w.pvc_gi}Gi"}}}}]},
            "status": {"replicas": w.replicas, "readyReplicas": ready, "currentReplicas":
                       w.replicas, "availableReplicas": ready},
        })
        for p in w.pods:
            objs.append({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": _meta(world, f"data-{p.name}", w.namespace, created,
                                  labels={"app": w.name}),
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard-rwo",
                         "resources": {"requests": {"storage": f"{w.pvc_gi}Gi"}}},
                "status": {"phase": "Bound", "capacity": {"storage": f"{w.pvc_gi}Gi"}},
            })
    objs.append({"apiVersion": "v1", "kind": "Service",
                 "metadata": _meta(world, w.name, w.namespace, created, labels=_labels(w)),
                 "spec": {"type": "ClusterIP", "selector": {"app": w.name},
                          "ports": [{"name": "http", "port": w.port, "targetPort": w.port}]}})
    ready_addr = [{"ip": f"10.244.{i}.{world.rng.randint(2, 250)}", "nodeName": p.node,
                   "targetRef": {"kind": "Pod", "namespace": w.namespace, "name": p.name}}
                  for i, p in enumerate(w.pods) if p.ready]
    unready = [{"ip": f"10.244.{i}.{world.rng.randint(2, 250)}", "nodeName": p.node,
                "targetRef": {"kind": "Pod", "namespace": w.namespace, "name": p.name}}
               for i, p in enumerate(w.pods) if not p.ready and p.node]
    subset: dict[str, Any] = {"ports": [{"name": "http", "port": w.port}]}
    if ready_addr:
        subset["addresses"] = ready_addr
    if unready:
        subset["notReadyAddresses"] = unready
    objs.append({"apiVersion": "v1", "kind": "Endpoints",
                 "metadata": _meta(world, w.name, w.namespace, created), "subsets": [subset]})
    if w.hpa:
        lo, hi = w.hpa
        status = {"currentReplicas": w.replicas, "desiredReplicas": w.replicas,
                  "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
                      "averageUtilization": world.rng.randint(30, 65)}}}],
                  "conditions": [{"type": "AbleToScale", "status": "True",
                                  "reason": "ReadyForNewScale"},
                                 {"type": "ScalingLimited", "status": "False",
                                  "reason": "DesiredWithinRange"}]}
        status.update(w.hpa_status)
        objs.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _meta(world, w.name, w.namespace, created),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                        "name": w.name},
                     "minReplicas": lo, "maxReplicas": hi,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": 75}}}]},
            "status": status,
        })
    for p in w.pods:
        objs.append(_pod(world, w, p))
    return objs


def _node(world: World, n: Node) -> dict[str, Any]:
    conds = {"MemoryPressure": ("False", "KubeletHasSufficientMemory", ""),
             "DiskPressure": ("False", "KubeletHasNoDiskPressure", ""),
             "PIDPressure": ("False", "KubeletHasSufficientPID", ""),
             "Ready": ("True", "KubeletReady", "kubelet is posting ready status")}
    conds.update(n.conditions)
    spec: dict[str, Any] = {"podCIDR": f"10.244.{world.rng.randint(0, 40)}.0/24"}
    if n.taints:
        spec["taints"] = n.taints
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": _meta(world, n.name, None, world.now - timedelta(days=90),
                          labels={"kubernetes.io/hostname": n.name,
                                  "topology.kubernetes.io/zone": n.zone}),
        "spec": spec,
        "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                   "allocatable": {"cpu": "3910m", "memory": "15Gi", "pods": "110"},
                   "conditions": [{"type": t, "status": s, "reason": r,
                                   **({"message": m} if m else {}),
                                   "lastHeartbeatTime": stamp(world.now - timedelta(seconds=20))}
                                  for t, (s, r, m) in conds.items()]},
    }


def render_objects(world: World) -> list[dict[str, Any]]:
    """Return every object of the world as Kubernetes API dicts."""
    objs: list[dict[str, Any]] = []
    for ns in [*world.app_namespaces, world.data_namespace, "kube-system"]:
        objs.append({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}},
                     "status": {"phase": "Active"}})
    objs.extend(_node(world, n) for n in world.nodes)
    for w in world.workloads:
        objs.extend(_workload(world, w))
    objs.extend(world.extra_objects)
    objs.extend(sorted(world.events, key=lambda e: e["lastTimestamp"]))
    return objs
