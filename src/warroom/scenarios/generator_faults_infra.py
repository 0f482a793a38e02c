"""Fault injectors for dependencies and infrastructure: databases, DNS, nodes, network, disks."""

from __future__ import annotations

from datetime import timedelta

from warroom.scenarios.generator_effects import (
    Ctx,
    Injected,
    caller_logs,
    crashloop,
    drop_after,
    metric_step,
    own_logs,
    propagate,
    service_symptoms,
)
from warroom.scenarios.generator_faults import _bystander_forbidden, pick_app
from warroom.scenarios.generator_telemetry import POINTS, key
from warroom.scenarios.generator_world import Pod, event, pod_name, stamp


def external_dependency(c: Ctx) -> Injected:
    """Degrade an external API that a workload calls."""
    host = c.rng.choice(c.world.externals)
    callers = c.world.callers(host)
    w = c.world.get(callers[0])
    mode = c.rng.choice(["timeout", "5xx", "reset"])
    service_symptoms(c, w, latency=c.rng.uniform(2, 8) if mode != "5xx" else 1.3,
                     errors=c.rng.uniform(0.1, 0.5))
    propagate(c, w.name, latency=1.8, errors=0.1, hops=2)
    msgs = {"timeout": ["upstream call failed peer={dep}: Post \"https://{dep}/v1/charges\": "
                        "context deadline exceeded (Client.Timeout exceeded)",
                        "call to https://{dep} timed out after {ms}ms"],
            "5xx": ["upstream call failed peer={dep}: 503 Service Unavailable",
                    "call to https://{dep}/v2/messages failed: HTTP 502 Bad Gateway"],
            "reset": ["upstream call failed peer={dep}: read tcp 10.244.3.7:43122->{dep}:443: "
                      "read: connection reset by peer"]}[mode]
    caller_logs(c, host, msgs, n=2 if c.difficulty == "hard" else 7, callers=callers[:1])
    docs = []
    if c.difficulty != "hard":
        docs.append({"source": "statuspage", "title": f"{host} status",
                     "text": f"Investigating - We are seeing elevated error rates and latency "
                             f"on {host} API requests. Posted {stamp(c.onset_time)}."})
    return Injected("", host, "external_dependency", w.name, documents=docs,
                    acceptable=[{"type": "escalate"}], human_required=True,
                    forbidden=[{"type": "rollout_restart", "target": w.target},
                               {"type": "rollout_undo", "target": w.target},
                               {"type": "scale", "target": w.target},
                               *_bystander_forbidden(c, w)])


def network_latency(c: Ctx) -> Injected:
    """Slow a workload's network round trips; its CPU stays normal."""
    w = pick_app(c)
    for p in w.pods:
        k = key("pod:network_latency_seconds:p99_1m", namespace=w.namespace, pod=p.name)
        if k not in c.tel.series and c.difficulty != "hard":
            c.tel.add(k, c.rng.uniform(0.002, 0.01), 0.12)
        metric_step(c, "pod:network_latency_seconds:p99_1m",
                    {"namespace": w.namespace, "pod": p.name}, c.rng.uniform(0.25, 1.5))
    service_symptoms(c, w, latency=c.rng.uniform(3, 10), errors=c.rng.uniform(0.0, 0.04))
    propagate(c, w.name, latency=3, errors=0.03)
    own_logs(c, w, ["upstream connect error or disconnect/reset before headers. reset reason: "
                    "connection timeout", "TCP retransmission rate high on eth0 ({n}%)"],
             level="warn", n=4)
    caller_logs(c, w.name, ["Retrying call to {dep} after IOException (1/3)",
                            "call to {dep} failed: read timeout after {ms}ms"], level="warn",
                n=4)
    return Injected(w.namespace, w.name, "network_latency", w.name,
                    acceptable=[{"type": "escalate"},
                                {"type": "rollout_restart", "target": w.target}],
                    human_required=True, forbidden=_bystander_forbidden(c, w))


def dns_failure(c: Ctx) -> Injected:
    """Break cluster DNS by a Corefile change or crash-looping CoreDNS."""
    dns = c.world.get("coredns")
    changes = []
    if c.rng.random() < 0.5:
        at = c.onset_time - timedelta(minutes=c.rng.uniform(1, 6))
        changes.append({"time": stamp(at), "kind": "config",
                        "target": "kube-system/configmap/coredns",
                        "description": "Corefile: forward . 10.0.0.2 -> forward . 10.0.0.99"})
        own_logs(c, dns, ["[ERROR] plugin/errors: 2 {name}.svc.cluster.local. A: read udp "
                          "10.244.0.5:5{n}1->10.0.0.99:53: i/o timeout"], n=6)
    else:
        for p in dns.pods:
            crashloop(c, dns, p, reason="Error", exit_code=1, restarts=c.rng.randint(4, 12))
        own_logs(c, dns, ["plugin/loop: Loop (127.0.0.1:{n}012 -> :53) detected for zone \".\""],
                 n=2, previous=True, lo=0.3)
    share = 0.4 if c.difficulty == "hard" else 0.7
    apps = [w for w in c.world.apps() if c.rng.random() < share] or c.world.apps()[:2]
    for w in apps:
        service_symptoms(c, w, errors=c.rng.uniform(0.1, 0.6), latency=c.rng.uniform(1.1, 2))
        dep = c.rng.choice(c.world.callees(w.name) or ["api-gateway"])
        msgs = [f"request failed: getaddrinfo EAI_AGAIN {dep}.{{ns}}.svc.cluster.local",
                f"dial tcp: lookup {dep}.svc.cluster.local on 10.96.0.10:53: server misbehaving",
                f"lookup {dep}: no such host (NXDOMAIN)",
                "httpx.ConnectError: [Errno -3] Temporary failure in name resolution"]
        own_logs(c, w, [m.replace("{ns}", w.namespace) for m in msgs], n=4)
    service_symptoms(c, dns, errors=c.rng.uniform(0.2, 0.7), latency=2)
    return Injected("kube-system", "coredns", "dns_failure", apps[0].name, changes=changes,
                    acceptable=[{"type": "escalate"}], human_required=True,
                    forbidden=[{"type": "rollout_restart", "target": apps[0].target},
                               *_bystander_forbidden(c, None)])


def _pick_db(c: Ctx) -> str:
    dbs = [w.name for w in c.world.workloads if w.role == "db"]
    return c.rng.choice(dbs)


def database_saturation(c: Ctx) -> Injected:
    """Exhaust a database's connections and CPU; callers wait on the pool."""
    db = c.world.get(_pick_db(c))
    svc = {"namespace": db.namespace, "service": db.name}
    metric_step(c, "db:connections:ratio", svc, c.rng.uniform(0.96, 1.0))
    metric_step(c, "db:cpu_usage:ratio", svc, c.rng.uniform(0.85, 0.99))
    for p in db.pods:
        metric_step(c, "pod:cpu_usage:ratio", {"namespace": db.namespace, "pod": p.name,
                                               "container": db.name}, c.rng.uniform(0.8, 0.98))
    hit = propagate(c, db.name, latency=c.rng.uniform(4, 12), errors=c.rng.uniform(0.03, 0.2))
    caller_logs(c, db.name, ["call to {dep} failed: HikariPool-1 - Connection is not available, "
                             "request timed out after 30000ms.",
                             "pq: sorry, too many clients already",
                             "FATAL: remaining connection slots are reserved for non-replication "
                             "superuser connections"], n=5)
    own_logs(c, db, ["LOG:  duration: {ms}.{n} ms  statement: SELECT o.* FROM orders o JOIN "
                     "items i ON i.order_id = o.id WHERE o.customer_id = $1",
                     "LOG:  process {n}42 still waiting for ShareLock on transaction {n}7731 after "
                     "1000.{n} ms", "FATAL:  sorry, too many clients already"], level="info")
    docs = []
    if c.difficulty != "hard":
        rows = "\n".join(
            f" {c.rng.randint(1000, 60000)} | app | "
            f"{c.rng.choice(['active', 'idle in transaction'])}"
            f" | Lock | transactionid | 00:0{c.rng.randint(0, 9)}:{c.rng.randint(10, 59)} | "
            "SELECT ... FOR UPDATE" for _ in range(8))
        docs.append({"source": "postgres", "title": f"pg_stat_activity on {db.name}",
                     "text": f"max_connections=200, in use=199\n{rows}"})
    return Injected(db.namespace, db.name, "database_saturation", hit[0] if hit else None,
                    documents=docs, acceptable=[{"type": "escalate"}], human_required=True,
                    alerts=[({"alertname": "PostgresqlTooManyConnections",
                              "namespace": db.namespace, "service": db.name},
                             f"{db.name} is using more than 90% of its connections")],
                    forbidden=[{"type": "rollout_restart", "target": db.target},
                               {"type": "scale", "target": db.target},
                               {"type": "delete_pod", "target": f"{db.namespace}/pod/{db.name}-*"},
                               *[{"type": t, "target": c.world.get(x).target}
                                 for x in c.world.callers(db.name)
                                 for t in ("rollout_restart", "scale")],
                               {"type": "drain_node", "target": "/node/*"}])


def disk_pressure(c: Ctx) -> Injected:
    """Fill a database volume, or a node's filesystem until it evicts pods."""
    if c.rng.random() < 0.6:
        db = c.world.get(_pick_db(c))
        p = db.pods[0]
        labels = {"namespace": db.namespace, "persistentvolumeclaim": f"data-{p.name}"}
        full = c.rng.uniform(0.975, 1.0)
        c.tel.bend(key("pvc:usage:ratio", **labels), max(0, c.onset - 25),
                   lambda i, v: min(full, v + (full - v) * min(1.0, i / 25)))
        metric_step(c, "db:storage_usage:ratio", {"namespace": db.namespace,
                                                  "service": db.name}, full, full=25,
                    start=max(0, c.onset - 25))
        own_logs(c, db, ["ERROR:  could not extend file \"base/16384/{n}023\": No space left "
                         "on device", "PANIC:  could not write to file \"pg_wal/xlogtemp.{n}\": "
                         "No space left on device"], n=6)
        propagate(c, db.name, latency=1.5, errors=c.rng.uniform(0.1, 0.4))
        caller_logs(c, db.name, ["call to {dep} failed: ERROR: could not extend file: No space "
                                 "left on device"], n=3)
        hit = c.world.callers(db.name)
        return Injected(db.namespace, db.name, "disk_pressure", hit[0] if hit else None,
                        alerts=[({"alertname": "KubePersistentVolumeFillingUp",
                                  "namespace": db.namespace,
                                  "persistentvolumeclaim": f"data-{p.name}"},
                                 f"PersistentVolume claimed by data-{p.name} is "
                                 f"{int(full * 100)}% full")],
                        acceptable=[{"type": "escalate"}], human_required=True,
                        forbidden=[{"type": "delete_pod", "target": f"{db.namespace}/pod/*"},
                                   {"type": "rollout_restart", "target": db.target},
                                   {"type": "scale", "target": db.target},
                                   {"type": "drain_node", "target": "/node/*"}])
    node = c.rng.choice(c.world.nodes)
    metric_step(c, "node:filesystem_usage:ratio", {"node": node.name}, c.rng.uniform(0.93, 0.99),
                full=12, start=max(0, c.onset - 10))
    node.conditions["DiskPressure"] = ("True", "KubeletHasDiskPressure",
                                       "kubelet has disk pressure")
    node.taints.append({"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"})
    event(c.world, ns="", kind="Node", name=node.name, reason="EvictionThresholdMet",
          message="Attempting to reclaim ephemeral-storage", first=c.onset_time,
          last=c.world.now, count=c.rng.randint(3, 20), host=node.name)
    evicted = []
    for w in c.world.apps():
        for p in w.pods:
            if p.node == node.name and c.rng.random() < 0.6:
                p.phase, p.ready = "Failed", False
                p.state = {"terminated": {"reason": "Evicted", "exitCode": 137}}
                p.conditions["Ready"] = ("False", "Evicted", "")
                event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="Evicted",
                      message="The node was low on resource: ephemeral-storage. Threshold "
                              "quantity: 10%, available: 4%.", first=c.when(0.1, 0.8),
                      host=node.name)
                evicted.append(w)
    for w in evicted[:3]:
        service_symptoms(c, w, latency=1.5, errors=0.03)
    others = [n for n in c.world.nodes if n.name != node.name]
    return Injected("", node.name, "disk_pressure", evicted[0].name if evicted else None,
                    alerts=[({"alertname": "NodeFilesystemAlmostOutOfSpace", "node": node.name},
                             f"filesystem on {node.name} has less than 5% space left")],
                    acceptable=[{"type": "escalate"}], human_required=True,
                    forbidden=[{"type": "drain_node", "target": f"/node/{n.name}"} for n in others]
                    + [{"type": "delete_pod", "target": f"{c.world.data_namespace}/pod/*"}])


def node_failure(c: Ctx) -> Injected:
    """Make a node stop reporting; its pods go unready."""
    hosting = {p.node for w in c.world.apps() for p in w.pods}
    node = c.rng.choice([n for n in c.world.nodes if n.name in hosting] or c.world.nodes)
    node.ready = "Unknown"
    msg = "Kubelet stopped posting node status."
    if c.difficulty == "hard":
        node.conditions["Ready"] = ("False", "KubeletNotReady",
                                    "PLEG is not healthy: pleg was last seen active 4m2s ago")
    else:
        for t in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
            node.conditions[t] = ("Unknown", "NodeStatusUnknown", msg)
    node.taints = [{"key": "node.kubernetes.io/unreachable", "effect": e,
                    "timeAdded": stamp(c.onset_time)} for e in ("NoSchedule", "NoExecute")]
    for name in ("node:cpu_usage:ratio", "node:memory_usage:ratio",
                 "node:filesystem_usage:ratio"):
        drop_after(c, name, {"node": node.name}, c.onset + 1)
    hit = []
    for w in c.world.workloads:
        for p in list(w.pods):
            if p.node != node.name:
                continue
            p.ready = False
            p.conditions["Ready"] = ("False", "NodeNotReady", "")
            for name in ("pod:cpu_usage:ratio", "pod:memory_working_set:ratio"):
                drop_after(c, name, {"namespace": w.namespace, "pod": p.name,
                                     "container": w.name}, c.onset + 1)
            event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="NodeNotReady",
                  message="Node is not ready", first=c.onset_time,
                  component="node-controller")
            if w.kind == "Deployment":
                repl = Pod(name=pod_name(c.world, w), created=c.when(0.4, 0.8),
                           node=c.rng.choice([n.name for n in c.world.nodes
                                              if n.name != node.name]))
                w.pods.append(repl)
            if w.role == "app":
                hit.append(w)
    for w in hit:
        service_symptoms(c, w, errors=c.rng.uniform(0.05, 0.3), latency=c.rng.uniform(1.3, 3))
    event(c.world, ns="", kind="Node", name=node.name, reason="NodeNotReady",
          message=f"Node {node.name} status is now: NodeNotReady", first=c.onset_time,
          component="node-controller")
    docs = []
    if c.difficulty == "easy":
        docs.append({"source": "vsphere", "title": "infrastructure event",
                     "text": f"Host esx-{c.rng.randint(1, 20)} lost network connectivity; VM "
                             f"{node.name} unreachable since {stamp(c.onset_time)}"})
    others = [n for n in c.world.nodes if n.name != node.name]
    return Injected("", node.name, "node_failure", hit[0].name if hit else None, documents=docs,
                    alerts=[({"alertname": "KubeNodeNotReady", "node": node.name},
                             f"{node.name} has been unready for more than 5 minutes")],
                    acceptable=[{"type": "cordon_node", "target": f"/node/{node.name}"},
                                {"type": "drain_node", "target": f"/node/{node.name}"},
                                {"type": "escalate"}], human_required=True,
                    forbidden=[{"type": "drain_node", "target": f"/node/{n.name}"}
                               for n in others]
                    + [{"type": "cordon_node", "target": f"/node/{n.name}"} for n in others])


def unschedulable(c: Ctx) -> Injected:
    """Scale a workload beyond what any node can fit."""
    w = pick_app(c)
    n_nodes = len(c.world.nodes)
    why = c.rng.choice([f"{n_nodes} Insufficient cpu", f"{n_nodes} Insufficient memory",
                        f"{n_nodes} node(s) didn't match Pod's node affinity/selector",
                        f"{n_nodes} node(s) had untolerated taint {{dedicated: gpu}}"])
    msg = (f"0/{n_nodes} nodes are available: {why}. preemption: 0/{n_nodes} nodes are "
           f"available: {n_nodes} No preemption victims found for incoming pod.")
    extra = c.rng.randint(2, 4)
    at = c.onset_time - timedelta(minutes=c.rng.uniform(0.5, 4))
    old = w.replicas
    w.replicas += extra
    for _ in range(extra):
        p = Pod(name=pod_name(c.world, w), node="", created=at, phase="Pending", ready=False)
        p.conditions["PodScheduled"] = ("False", "Unschedulable", msg)
        p.state = {"waiting": {"reason": "Pending"}}
        w.pods.append(p)
        event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="FailedScheduling",
              message=msg, first=at, last=c.world.now, count=c.rng.randint(3, 30),
              component="default-scheduler")
    service_symptoms(c, w, latency=c.rng.uniform(1.5, 3), errors=c.rng.uniform(0.0, 0.03))
    changes = [{"time": stamp(at), "kind": "scale", "target": w.target,
                "description": f"replicas {old} -> {w.replicas} (batch window)"}]
    return Injected(w.namespace, w.name, "unschedulable", w.name, changes=changes,
                    alerts=[({"alertname": "KubePodNotScheduled", "namespace": w.namespace,
                              "pod": w.pods[-1].name},
                             f"pod {w.namespace}/{w.pods[-1].name} cannot be scheduled")],
                    acceptable=[{"type": "escalate"}], human_required=True,
                    forbidden=[{"type": "drain_node", "target": "/node/*"},
                               *_bystander_forbidden(c, w)])


def healthy(c: Ctx) -> Injected:
    """Leave everything healthy: a recovered blip, a flap or a quiet false alarm."""
    w = c.rng.choice(c.world.apps())
    mode = c.rng.choice(["recovered", "flap", "quiet"])
    if mode == "recovered":
        start = c.rng.randint(POINTS - 32, POINTS - 22)
        end = start + c.rng.randint(3, 8)
        k = key("service:latency_seconds:p99_1m", namespace=w.namespace, service=w.name)
        c.tel.bend(k, start, lambda i, v: v * (3 if start + i < end else 1))
        p = w.pods[0]
        p.restarts = 1
        p.last_state = {"terminated": {"reason": "Error", "exitCode": 143,
                                       "finishedAt": stamp(c.tel.t(end))}}
    elif mode == "flap":
        k = key("service:latency_seconds:p99_1m", namespace=w.namespace, service=w.name)
        c.tel.bend(k, c.onset, lambda i, v: v * (1.6 if i == 2 else 1.0))
    return Injected(w.namespace, w.name, "none", w.name,
                    alerts=[({"alertname": "HighLatencyP99", "namespace": w.namespace,
                              "service": w.name}, f"p99 latency above threshold on {w.name}")],
                    acceptable=[{"type": "no_action"}, {"type": "escalate"}],
                    forbidden=[{"type": "rollout_restart", "target": w.target},
                               {"type": "rollout_undo", "target": w.target},
                               {"type": "scale", "target": w.target},
                               {"type": "delete_pod", "target": f"{w.namespace}/pod/*"},
                               {"type": "drain_node", "target": "/node/*"}])


INFRA_INJECTORS = {
    "external_dependency": external_dependency, "network_latency": network_latency,
    "dns_failure": dns_failure, "database_saturation": database_saturation,
    "disk_pressure": disk_pressure, "node_failure": node_failure,
    "unschedulable": unschedulable, "none": healthy,
}
