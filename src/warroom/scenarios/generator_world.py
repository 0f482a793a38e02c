"""A random but plausible cluster for the scenario generator: namespaces, workloads, pods, nodes.

The world is a plain data model that the fault injectors mutate; `render_objects` turns it into
Kubernetes API objects shaped like the API server returns them.
"""

from __future__ import annotations

import hashlib
import random
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

_APPS = ["frontend", "api-gateway", "checkout", "cart", "catalog", "orders", "payments",
         "shipping", "inventory", "search", "reviews", "users", "recommendations", "pricing",
         "notifications", "accounts", "ledger", "billing", "auth", "media", "quotes"]
_DATABASES = ["orders-db", "catalog-db", "users-db", "ledger-db", "billing-db", "inventory-db"]
_CACHES = ["redis", "memcached"]
_QUEUES = ["rabbitmq", "kafka"]
_EXTERNAL = ["api.stripe.com", "api.sendgrid.com", "api.easypost.com", "api.twilio.com",
             "hooks.slack.com", "sqs.eu-west-1.amazonaws.com", "api.adyen.com"]
_APP_NAMESPACES = ["shop", "store", "retail", "commerce", "payments", "web", "edge", "core",
                   "checkout", "fulfilment"]
_DATA_NAMESPACES = ["datastores", "db", "data", "storage"]
_TEAMS = ["team-core", "team-checkout", "team-payments", "team-platform", "team-growth"]
LANGS = ("java", "go", "node", "python")


_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def rand_id(rng: random.Random, n: int, alphabet: str = _ALPHABET) -> str:
    """Return a random Kubernetes-style name suffix."""
    return "".join(rng.choice(alphabet) for _ in range(n))


def successor_pod(workload: str, pod: str, at: datetime) -> str:
    """Name the pod that replaces `pod` in a rollout of `workload` at `at`, without a draw.

    Every pod of one rollout gets the same new template hash. Deterministic, so scenarios that
    add a rollout do not shift the random choices made after it.
    """
    def chars(text: str, n: int) -> str:
        digest = hashlib.sha256(text.encode()).digest()
        return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:n])
    return f"{workload}-{chars(f'{workload}@{at.isoformat()}', 10)}-{chars(pod, 5)}"


def stamp(t: datetime) -> str:
    """Format a datetime as RFC 3339 with a Z suffix."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Pod:
    name: str
    node: str
    created: datetime
    phase: str = "Running"
    ready: bool = True
    restarts: int = 0
    state: dict[str, Any] = field(default_factory=dict)  # containerStatuses[].state
    last_state: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # type->(st,rsn,msg)
    image: str | None = None  # overrides the workload image (a new, broken revision)
    rs_hash: str | None = None
    old_revision: bool = False


@dataclass
class Workload:
    name: str
    namespace: str
    kind: str  # Deployment | StatefulSet
    role: str  # app | db | cache | queue | dns
    lang: str
    replicas: int
    image: str
    version: str
    revision: int
    cpu_limit_m: int
    mem_limit_mi: int
    team: str
    rs_hash: str = ""
    prev_rs_hash: str = ""
    prev_version: str = ""
    pods: list[Pod] = field(default_factory=list)
    hpa: tuple[int, int] | None = None  # min, max
    hpa_status: dict[str, Any] = field(default_factory=dict)
    pvc_gi: int = 0
    port: int = 8080
    probe_path: str = "/readyz"
    probe_timeout: int = 3
    extra_rs: list[tuple[str, int, str]] = field(default_factory=list)  # hash, revision, image
    tls: bool = False
    rs_created: datetime | None = None  # when the current ReplicaSet was created (a rollout)

    @property
    def target(self) -> str:
        return f"{self.namespace}/{self.kind.lower()}/{self.name}"


@dataclass
class Node:
    name: str
    zone: str
    ready: str = "True"
    conditions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)


@dataclass
class World:
    rng: random.Random
    now: datetime
    app_namespaces: list[str]
    data_namespace: str
    nodes: list[Node]
    workloads: list[Workload]
    edges: list[tuple[str, str]]
    externals: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    extra_objects: list[dict[str, Any]] = field(default_factory=list)

    def get(self, name: str) -> Workload:
        """Return the workload called `name`."""
        for w in self.workloads:
            if w.name == name:
                return w
        raise KeyError(name)

    def apps(self) -> list[Workload]:
        """Return the stateless application workloads."""
        return [w for w in self.workloads if w.role == "app"]

    def callers(self, name: str) -> list[str]:
        """Return the services that call `name`."""
        return [a for a, b in self.edges if b == name]

    def callees(self, name: str) -> list[str]:
        """Return the services `name` calls."""
        return [b for a, b in self.edges if a == name]

    def uid(self) -> str:
        """Return a deterministic UID."""
        return str(uuid.UUID(int=self.rng.getrandbits(128)))


def build_world(rng: random.Random, now: datetime) -> World:
    """Build a random service graph across 2-4 namespaces with its workloads and nodes."""
    n_app_ns = rng.choice([1, 2, 2, 3])
    app_ns = rng.sample(_APP_NAMESPACES, n_app_ns)
    data_ns = rng.choice(_DATA_NAMESPACES)
    node_prefix = rng.choice(["k8s-worker-", "node-", "ip-10-0-"])
    nodes = []
    for i in range(rng.randint(3, 6)):
        name = (f"{node_prefix}{rng.randint(1, 254)}-{rng.randint(1, 254)}.ec2.internal"
                if node_prefix == "ip-10-0-" else f"{node_prefix}{i + 1:02d}")
        nodes.append(Node(name=name, zone=f"zone-{'abc'[i % 3]}"))
    names = rng.sample(_APPS[2:], rng.randint(5, 9))
    entry = rng.choice(["frontend", "api-gateway"])
    dbs = rng.sample(_DATABASES, rng.randint(1, 2))
    cache = rng.choice(_CACHES)
    queue = rng.choice(_QUEUES) if rng.random() < 0.6 else None
    externals = rng.sample(_EXTERNAL, rng.randint(1, 2))
    workloads: list[Workload] = []

    def mk(name: str, ns: str, kind: str, role: str) -> Workload:
        ver = f"{rng.randint(1, 3)}.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
        lang = rng.choice(LANGS)
        image = {"db": "postgres:15.6", "cache": f"{name}:7.2", "queue": f"{name}:3.13"}.get(
            role, f"registry.acme.internal/{ns}/{name}:{ver}")
        replicas = 1 if kind == "StatefulSet" else rng.choice([2, 2, 3, 3, 4])
        cpu = rng.choice([250, 500, 1000, 2000]) if role == "app" else 2000
        mem = rng.choice([256, 384, 512, 768, 1024]) if role == "app" else 4096
        w = Workload(name=name, namespace=ns, kind=kind, role=role, lang=lang, replicas=replicas,
                     image=image, version=ver, revision=rng.randint(3, 60), cpu_limit_m=cpu,
                     mem_limit_mi=mem, team=rng.choice(_TEAMS), rs_hash=rand_id(rng, 10),
                     prev_rs_hash=rand_id(rng, 10), pvc_gi=rng.choice([20, 50, 100])
                     if kind == "StatefulSet" else 0,
                     port={"db": 5432, "cache": 6379, "queue": 5672}.get(role, 8080))
        if role == "app" and rng.random() < 0.6:
            lo = w.replicas
            w.hpa = (lo, lo + rng.randint(2, 6))
        w.prev_version = f"{ver.rsplit('.', 1)[0]}.{max(0, int(ver.rsplit('.', 1)[1]) - 1)}"
        return w

    ns_of = {entry: app_ns[0]}
    for i, n in enumerate(names):
        ns_of[n] = app_ns[i % len(app_ns)] if len(app_ns) > 1 else app_ns[0]
    workloads.append(mk(entry, ns_of[entry], "Deployment", "app"))
    for n in names:
        workloads.append(mk(n, ns_of[n], "Deployment", "app"))
    for d in dbs:
        workloads.append(mk(d, data_ns, "StatefulSet", "db"))
    workloads.append(mk(cache, data_ns, "StatefulSet", "cache"))
    if queue:
        workloads.append(mk(queue, data_ns, "StatefulSet", "queue"))
    payments_like = [w for w in workloads if w.name in ("payments", "auth", "ledger", "billing")]
    for w in payments_like:
        w.tls = True
    if not payments_like:
        rng.choice(workloads[1:1 + len(names)]).tls = True

    # edges: a layered DAG entry -> tier1 -> tier2 -> data / external
    edges: list[tuple[str, str]] = []
    tier1 = names[: max(2, len(names) // 2)]
    tier2 = names[len(tier1):]
    for t in tier1:
        edges.append((entry, t))
    for t in tier2:
        edges.append((rng.choice(tier1), t))
        if rng.random() < 0.3:
            edges.append((rng.choice(tier1), t))
    for n in names:
        if rng.random() < 0.55:
            edges.append((n, rng.choice(dbs)))
        if rng.random() < 0.3:
            edges.append((n, cache))
        if queue and rng.random() < 0.2:
            edges.append((n, queue))
    for host in externals:
        edges.append((rng.choice(names), host))
    # every database has at least one caller
    for d in dbs:
        if not any(b == d for _, b in edges):
            edges.append((rng.choice(names), d))
    edges = sorted(set(edges), key=edges.index)

    coredns = Workload(name="coredns", namespace="kube-system", kind="Deployment", role="dns",
                       lang="go", replicas=2, image="registry.k8s.io/coredns/coredns:v1.11.1",
                       version="1.11.1", revision=rng.randint(2, 9), cpu_limit_m=500,
                       mem_limit_mi=170, team="team-platform", rs_hash=rand_id(rng, 10),
                       prev_rs_hash=rand_id(rng, 10), port=53, probe_path="/health")
    workloads.append(coredns)

    world = World(rng=rng, now=now, app_namespaces=app_ns, data_namespace=data_ns, nodes=nodes,
                  workloads=workloads, edges=edges, externals=externals)
    for w in workloads:
        for _ in range(w.replicas):
            created = now - timedelta(hours=rng.uniform(20, 400))
            if w.kind == "StatefulSet":
                pname = f"{w.name}-{len(w.pods)}"
            else:
                pname = f"{w.name}-{w.rs_hash}-{rand_id(rng, 5)}"
            w.pods.append(Pod(name=pname, node=rng.choice(nodes).name, created=created))
    return world


def pod_name(world: World, w: Workload, rs_hash: str | None = None) -> str:
    """Return a fresh pod name for a workload."""
    if w.kind == "StatefulSet":
        return f"{w.name}-{len(w.pods)}"
    return f"{w.name}-{rs_hash or w.rs_hash}-{rand_id(world.rng, 5)}"


def event(world: World, *, ns: str, kind: str, name: str, reason: str, message: str,
          etype: str = "Warning", first: datetime, last: datetime | None = None, count: int = 1,
          component: str = "kubelet", host: str = "", field_path: str = "") -> None:
    """Record a v1 Event about an object."""
    involved: dict[str, Any] = {"kind": kind, "name": name, "namespace": ns,
                                "apiVersion": "v1" if kind in ("Pod", "Node") else "apps/v1"}
    if field_path:
        involved["fieldPath"] = field_path
    src: dict[str, str] = {"component": component}
    if host:
        src["host"] = host
    world.events.append({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.{rand_id(world.rng, 16, string.hexdigits.lower()[:16])}",
                     "namespace": ns or "default", "uid": world.uid(),
                     "creationTimestamp": stamp(first)},
        "involvedObject": involved, "reason": reason, "message": message, "source": src,
        "firstTimestamp": stamp(first), "lastTimestamp": stamp(last or first), "count": count,
        "type": etype, "reportingComponent": component, "reportingInstance": host,
    })
