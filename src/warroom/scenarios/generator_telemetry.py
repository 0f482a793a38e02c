"""Noisy metric baselines and log lines for generated scenarios.

Series are kept as float lists keyed by their label set so fault injectors can bend them after
an onset index; `render_series` emits Prometheus matrix items (string samples, unix seconds).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from warroom.scenarios.generator_world import Workload, World

Key = tuple[tuple[str, str], ...]
POINTS = 45
STEP = 60


def key(name: str, **labels: str) -> Key:
    """Return the hashable label set of a series."""
    return tuple(sorted({"__name__": name, **labels}.items()))


@dataclass
class Telemetry:
    rng: random.Random
    now: datetime
    series: dict[Key, list[float]] = field(default_factory=dict)
    logs: dict[tuple[str, str, bool], list[tuple[datetime, str]]] = field(default_factory=dict)

    def add(self, k: Key, base: float, noise: float, *, drift: float = 0.0,
            lo: float = 0.0, hi: float | None = None) -> None:
        """Add a series around `base` with relative noise and a slow sinusoidal drift."""
        phase = self.rng.uniform(0, math.tau)
        vals = []
        for i in range(POINTS):
            v = base * (1 + drift * math.sin(phase + i / 9)) * (1 + self.rng.gauss(0, noise))
            vals.append(min(max(v, lo), hi) if hi is not None else max(v, lo))
        self.series[k] = vals

    def bend(self, k: Key, start: int, fn: Callable[[int, float], float]) -> None:
        """Rewrite a series from index `start`: fn(steps since start, old value) -> new."""
        vals = self.series.get(k)
        if vals is None:
            return
        for i in range(max(0, start), POINTS):
            vals[i] = fn(i - start, vals[i])

    def find(self, name: str, **labels: str) -> list[Key]:
        """Return the keys of series with this name whose labels include `labels`."""
        out = []
        for k in self.series:
            d = dict(k)
            if d["__name__"] == name and all(d.get(a) == b for a, b in labels.items()):
                out.append(k)
        return out

    def roll_pod(self, old: str, new: str, at: datetime) -> None:
        """Replace a pod's series by a new pod's at `at`, as a rollout shows in real metrics.

        The old pod's series stop at the sample before `at` and the new pod's (its values, under
        the new name) begin at it; a rollout before the window renames the series throughout.
        """
        first = POINTS - 1 - int((self.now - at).total_seconds() // STEP)
        for k in [k for k in self.series if ("pod", old) in k]:
            vals = self.series.pop(k)
            moved = tuple(sorted(("pod", new) if kv == ("pod", old) else kv for kv in k))
            cut = min(max(first, 0), POINTS)
            self.series[moved] = [math.nan] * cut + vals[cut:]
            if cut > 0:
                self.series[k] = vals[:cut] + [math.nan] * (POINTS - cut)

    def t(self, index: int) -> datetime:
        """Return the timestamp of sample `index`."""
        return self.now - timedelta(seconds=STEP * (POINTS - 1 - index))

    def log(self, ns: str, pod: str, line: str, at: datetime, previous: bool = False) -> None:
        """Record one log line of a pod."""
        self.logs.setdefault((ns, pod, previous), []).append((at, line))


def baseline(world: World, tel: Telemetry) -> None:
    """Give every workload, pod, node and database its normal, noisy telemetry."""
    rng = tel.rng
    for w in world.workloads:
        ns = w.namespace
        if w.role in ("app", "dns"):
            rps = rng.uniform(5, 400) if w.role == "app" else rng.uniform(200, 900)
            tel.add(key("service:requests:rate1m", namespace=ns, service=w.name), rps, 0.05,
                    drift=0.08)
            tel.add(key("service:errors:ratio_rate1m", namespace=ns, service=w.name),
                    rng.uniform(0.0005, 0.008), 0.35, hi=1.0)
            p99 = rng.uniform(0.04, 0.45)
            tel.add(key("service:latency_seconds:p99_1m", namespace=ns, service=w.name), p99,
                    0.1)
            if rng.random() < 0.6:
                tel.add(key("service:latency_seconds:p50_1m", namespace=ns, service=w.name),
                        p99 * 0.3, 0.08)
        for p in w.pods:
            tel.add(key("pod:cpu_usage:ratio", namespace=ns, pod=p.name, container=w.name),
                    rng.uniform(0.12, 0.55), 0.12, drift=0.1, hi=1.2)
            tel.add(key("pod:memory_working_set:ratio", namespace=ns, pod=p.name,
                        container=w.name), rng.uniform(0.3, 0.66), 0.015, hi=1.0)
            if rng.random() < 0.25:
                tel.add(key("pod:cpu_throttled:ratio", namespace=ns, pod=p.name,
                            container=w.name), rng.uniform(0.0, 0.05), 0.4, hi=1.0)
            if w.role == "app" and rng.random() < 0.5:
                tel.add(key("pod:network_latency_seconds:p99_1m", namespace=ns, pod=p.name),
                        rng.uniform(0.002, 0.012), 0.12)
        if w.role == "db":
            svc = {"namespace": ns, "service": w.name}
            tel.add(key("db:connections:ratio", **svc), rng.uniform(0.15, 0.5), 0.06, hi=1.0)
            tel.add(key("db:cpu_usage:ratio", **svc), rng.uniform(0.15, 0.45), 0.1, hi=1.0)
            tel.add(key("db:storage_usage:ratio", **svc), rng.uniform(0.3, 0.7), 0.002, hi=1.0)
            if rng.random() < 0.4:
                tel.add(key("db:replication_lag_seconds", **svc), rng.uniform(0.05, 0.5), 0.3)
        if w.kind == "StatefulSet":
            for p in w.pods:
                tel.add(key("pvc:usage:ratio", namespace=ns,
                            persistentvolumeclaim=f"data-{p.name}"),
                        rng.uniform(0.3, 0.7), 0.002, hi=1.0)
        if w.tls:
            days = rng.uniform(20, 80)
            tel.add(key("probe:ssl_expiry_seconds", namespace=ns, service=w.name), days * 86400,
                    0.0)
            tel.bend(key("probe:ssl_expiry_seconds", namespace=ns, service=w.name), 0,
                     lambda i, v: v - i * STEP)
    for n in world.nodes:
        tel.add(key("node:cpu_usage:ratio", node=n.name), rng.uniform(0.2, 0.6), 0.08, hi=1.0)
        tel.add(key("node:memory_usage:ratio", node=n.name), rng.uniform(0.4, 0.75), 0.02,
                hi=1.0)
        tel.add(key("node:filesystem_usage:ratio", node=n.name), rng.uniform(0.25, 0.7), 0.003,
                hi=1.0)


def render_series(tel: Telemetry) -> list[dict[str, Any]]:
    """Return the series as Prometheus range-query matrix items."""
    out = []
    t0 = int(tel.now.timestamp()) - STEP * (POINTS - 1)
    for k, vals in tel.series.items():
        values = [[t0 + STEP * i, _fmt(v)] for i, v in enumerate(vals) if not math.isnan(v)]
        if values:
            out.append({"metric": dict(k), "values": values})
    return out


def _fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:.0f}"
    return f"{v:.4g}"


# -- log lines in the house styles of four stacks -------------------------------------------

def fmt_line(lang: str, at: datetime, level: str, logger: str, msg: str) -> str:
    """Format one log line the way a service written in `lang` would print it."""
    if lang == "java":
        ts = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        return f"{ts} {level.upper():>5} 1 --- [main] c.acme.{logger:<28} : {msg}"
    if lang == "go":
        ts = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
        msg_q = msg.replace('"', '\\"')
        return (f'{{"level":"{level.lower()}","ts":"{ts}","caller":"{logger}.go:'
                f'{(len(msg) * 7) % 300 + 12}","msg":"{msg_q}"}}')
    if lang == "node":
        lvl = {"debug": 20, "info": 30, "warn": 40, "error": 50, "fatal": 60}[level.lower()]
        msg_q = msg.replace('"', '\\"')
        return f'{{"level":{lvl},"time":{int(at.timestamp() * 1000)},"pid":1,"msg":"{msg_q}"}}'
    ts = at.strftime("%Y-%m-%d %H:%M:%S,") + f"{at.microsecond // 1000:03d}"
    return f"{ts} {level.upper():<8} [{logger}] {msg}"


_INFO = ["GET /api/v1/items -> 200 ({ms} ms)", "POST /api/v1/orders -> 201 ({ms} ms)",
         "processed message id={hex} in {ms}ms", "health check ok",
         "GET /healthz 200", "cache hit ratio 0.9{d}", "request completed status=200 in {ms}ms"]
_NOISE_WARN = ["Resolved [org.springframework.web.HttpMediaTypeNotAcceptableException: "
               "No acceptable representation]",
               "MaxListenersExceededWarning: Possible EventEmitter memory leak detected.",
               "deprecated config key 'http.read_timeout', use 'server.read_timeout'",
               "slow request GET /api/v1/search took 1.{d}s",
               "jwt: token expires in 4m, refreshing",
               "connection pool: idle connections closed: {d}",
               "retrying GET /api/v1/recommendations (1/3) after 502"]


def fill(pattern: str, rng: random.Random) -> str:
    """Fill the random placeholders of a log template."""
    return pattern.format(ms=rng.randint(4, 90), hex=f"{rng.getrandbits(40):010x}",
                          d=rng.randint(1, 9))


def background_logs(world: World, tel: Telemetry, w: Workload, *, n: int = 8,
                    noise: float = 0.1) -> None:
    """Write ordinary log chatter for the first pods of a workload."""
    rng = tel.rng
    for p in w.pods[:2]:
        for _ in range(n):
            at = tel.now - timedelta(seconds=rng.uniform(30, 1800))
            if rng.random() < noise:
                line = fmt_line(w.lang, at, "warn", "app", fill(rng.choice(_NOISE_WARN), rng))
            else:
                line = fmt_line(w.lang, at, "info", "web", fill(rng.choice(_INFO), rng))
            tel.log(w.namespace, p.name, line, at)


def render_logs(world: World, tel: Telemetry) -> list[dict[str, Any]]:
    """Return log streams, lines in time order, as the scenario format wants them."""
    containers = {p.name: w.name for w in world.workloads for p in w.pods}
    out = []
    for (ns, pod, previous), lines in tel.logs.items():
        lines.sort(key=lambda x: x[0])
        out.append({"namespace": ns, "pod": pod, "container": containers.get(pod, pod),
                    "previous": previous, "lines": [ln for _, ln in lines[-40:]]})
    return out
