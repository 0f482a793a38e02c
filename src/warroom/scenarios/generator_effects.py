"""Shared building blocks of fault injection: what an injector returns, symptoms, propagation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.scenarios.generator_telemetry import POINTS, Telemetry, fmt_line, key
from warroom.scenarios.generator_world import Pod, Workload, World, event, rand_id, stamp


@dataclass
class Injected:
    """What a fault injector did: the ground truth and the native alerts it would raise."""

    namespace: str
    service: str
    fault: str
    symptom: str | None  # the app service where users feel it first (alert placement)
    alerts: list[tuple[dict[str, str], str]] = field(default_factory=list)  # labels, summary
    acceptable: list[dict[str, Any]] = field(default_factory=list)
    forbidden: list[dict[str, Any]] = field(default_factory=list)
    human_required: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, str]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)  # workloads whose state the fault changed


@dataclass
class Ctx:
    world: World
    tel: Telemetry
    onset: int  # index of the first faulty sample
    difficulty: str  # easy | medium | hard

    @property
    def rng(self) -> Any:
        return self.world.rng

    @property
    def onset_time(self) -> datetime:
        return self.tel.t(self.onset)

    def when(self, lo: float = 0.0, hi: float = 1.0) -> datetime:
        """Return a random instant between onset (0) and now (1)."""
        span = (self.world.now - self.onset_time).total_seconds()
        return self.onset_time + timedelta(seconds=span * self.rng.uniform(lo, hi))


def ramp(steps: int, full: int = 3) -> float:
    """Return the share (0..1) of an effect reached `steps` samples after onset."""
    return min(1.0, (steps + 1) / full)


def service_symptoms(c: Ctx, w: Workload, *, latency: float = 1.0, errors: float = 0.0,
                     requests: float = 1.0, full: int = 3) -> None:
    """Bend a service's golden signals after onset: latency factor, error ratio, rps factor."""
    tel, ns = c.tel, w.namespace
    for name in ("service:latency_seconds:p99_1m", "service:latency_seconds:p95_1m",
                 "service:latency_seconds:p50_1m"):
        f = latency if name.endswith("p99_1m") else 1 + (latency - 1) * 0.6
        def slower(i: int, v: float, f: float = f) -> float:
            return v * (1 + (f - 1) * ramp(i, full) * c.rng.uniform(0.85, 1.15))

        tel.bend(key(name, namespace=ns, service=w.name), c.onset, slower)
    tel.bend(key("service:errors:ratio_rate1m", namespace=ns, service=w.name), c.onset,
             lambda i, v: min(1.0, v + errors * ramp(i, full) * c.rng.uniform(0.8, 1.2)))
    tel.bend(key("service:requests:rate1m", namespace=ns, service=w.name), c.onset,
             lambda i, v: v * (1 + (requests - 1) * ramp(i, full)))


def propagate(c: Ctx, culprit: str, *, latency: float, errors: float, hops: int = 3,
              skip: set[str] | None = None) -> list[str]:
    """Spread symptoms from a culprit to its callers, weaker at each hop; return who got them."""
    seen: set[str] = {culprit, *(skip or set())}
    frontier = [culprit]
    hit: list[str] = []
    for hop in range(hops):
        nxt = []
        for name in frontier:
            for caller in c.world.callers(name):
                if caller in seen:
                    continue
                seen.add(caller)
                decay = 0.75 ** hop
                w = c.world.get(caller)
                service_symptoms(c, w, latency=1 + (latency - 1) * decay,
                                 errors=errors * decay)
                hit.append(caller)
                nxt.append(caller)
        frontier = nxt
    return hit


def caller_logs(c: Ctx, callee: str, messages: list[str], *, level: str = "error",
                n: int = 5, callers: list[str] | None = None) -> None:
    """Write error lines about a dependency in the logs of its direct callers."""
    for caller in callers if callers is not None else c.world.callers(callee):
        try:
            w = c.world.get(caller)
        except KeyError:
            continue
        for p in w.pods[:2]:
            for _ in range(n):
                at = c.when(0.05, 1.0)
                msg = c.rng.choice(messages).format(dep=callee, ns=_ns_of(c.world, callee),
                                                    ms=c.rng.randint(1000, 30000))
                c.tel.log(w.namespace, p.name, fmt_line(w.lang, at, level, "client.HttpClient",
                                                        msg), at)


def _ns_of(world: World, name: str) -> str:
    try:
        return world.get(name).namespace
    except KeyError:
        return ""


def own_logs(c: Ctx, w: Workload, messages: list[str], *, level: str = "error", n: int = 6,
             pods: list[Pod] | None = None, previous: bool = False, lo: float = 0.05) -> None:
    """Write fault lines in a workload's own logs."""
    for p in pods if pods is not None else w.pods[:2]:
        for _ in range(n):
            at = c.when(lo, 1.0)
            msg = c.rng.choice(messages).format(name=w.name, limit=w.mem_limit_mi,
                                                ms=c.rng.randint(1000, 9000),
                                                n=c.rng.randint(2, 99))
            c.tel.log(w.namespace, p.name, fmt_line(w.lang, at, level, "app", msg), at,
                      previous=previous)


def crashloop(c: Ctx, w: Workload, p: Pod, *, reason: str, exit_code: int,
              restarts: int, message: str = "") -> None:
    """Put a pod's container into CrashLoopBackOff after terminations of the given kind."""
    finished = c.when(0.6, 0.97)
    p.restarts = restarts
    p.ready = False
    p.state = {"waiting": {"reason": "CrashLoopBackOff",
                           "message": f"back-off 5m0s restarting failed container={w.name} "
                                      f"pod={p.name}_{w.namespace}"}}
    term: dict[str, Any] = {"reason": reason, "exitCode": exit_code,
                            "startedAt": stamp(finished - timedelta(
                                seconds=c.rng.randint(20, 200))),
                            "finishedAt": stamp(finished)}
    if message:
        term["message"] = message
    p.last_state = {"terminated": term}
    p.conditions["Ready"] = ("False", "ContainersNotReady",
                             f"containers with unready status: [{w.name}]")
    p.conditions["ContainersReady"] = ("False", "ContainersNotReady",
                                       f"containers with unready status: [{w.name}]")

    event(c.world, ns=w.namespace, kind="Pod", name=p.name, reason="BackOff",
          message=f"Back-off restarting failed container {w.name} in pod {p.name}_{w.namespace}",
          first=c.onset_time, last=c.world.now - timedelta(seconds=c.rng.randint(5, 90)),
          count=restarts * 3, host=p.node, field_path=f"spec.containers{{{w.name}}}")


def new_revision(c: Ctx, w: Workload, *, at: datetime,
                 image: str | None = None) -> tuple[str, int]:
    """Roll a deployment forward one revision at `at`; the old ReplicaSet becomes the previous."""
    new_hash = rand_id(c.rng, 10)
    old_hash, old_ver = w.rs_hash, w.version
    w.prev_rs_hash, w.prev_version = old_hash, old_ver
    major, minor, patch = (w.version.split(".") + ["0", "0"])[:3]
    w.version = f"{major}.{minor}.{int(patch) + 1}"
    w.image = image or w.image.replace(old_ver, w.version)
    w.rs_hash = new_hash
    w.revision += 1
    w.rs_created = at
    return new_hash, w.revision


def deploy_change(c: Ctx, w: Workload, at: datetime, what: str = "") -> dict[str, Any]:
    """Return a change-feed entry for a deploy of `w` at `at`."""
    tool = c.rng.choice(["argocd", "flux", "github-actions", "spinnaker"])
    return {"time": stamp(at), "kind": "deploy", "target": w.target,
            "description": what or f"image {w.name}:{w.prev_version} -> {w.name}:{w.version} "
                                   f"(PR #{c.rng.randint(1000, 9999)}) ({tool})"}


def metric_step(c: Ctx, name: str, labels: dict[str, str], target: float, *,
                full: int = 3, start: int | None = None) -> None:
    """Move a series towards `target` (absolute) after onset, with a little noise."""
    c.tel.bend(key(name, **labels), c.onset if start is None else start,
               lambda i, v: v + (target * c.rng.uniform(0.96, 1.04) - v) * ramp(i, full))


def drop_after(c: Ctx, name: str, labels: dict[str, str], start: int) -> None:
    """Blank a series from `start` on (a scrape target that vanished)."""
    c.tel.bend(key(name, **labels), start, lambda i, v: float("nan"))


def window_start() -> int:
    """Return the index of the first sample (for whole-window effects)."""
    return 0


def last_index() -> int:
    """Return the index of the newest sample."""
    return POINTS - 1
