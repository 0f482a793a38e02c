"""Generate realistic `warroom-scenario/v1` files for every fault class, at several difficulties.

Each scenario is a random service graph (2-4 namespaces with deployments, ReplicaSets, pods,
nodes, services, HPAs, PVCs and events), noisy baselines, one injected fault with the signature a
real fault leaves, its propagation to callers, and red herrings: unrelated recent deploys and
feature flags, an old resolved OOM, the alert firing upstream of the culprit, a missing metric,
a noisy unrelated pod. `expected` follows the project's remediation policy.

    python -m warroom.scenarios.generator --out scenarios/regression --count 90 --seed 7
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import fmean
from typing import Any

from warroom.agents.models import FAULTS
from warroom.scenarios.generator_effects import Ctx, Injected, crashloop, own_logs
from warroom.scenarios.generator_faults import INJECTORS
from warroom.scenarios.generator_faults_infra import INFRA_INJECTORS
from warroom.scenarios.generator_objects import render_objects
from warroom.scenarios.generator_rollouts import ROLLOUT_INJECTORS
from warroom.scenarios.generator_telemetry import (
    POINTS,
    STEP,
    Telemetry,
    background_logs,
    baseline,
    fmt_line,
    key,
    render_logs,
    render_series,
)
from warroom.scenarios.generator_world import (
    Workload,
    World,
    build_world,
    event,
    stamp,
    successor_pod,
)

ALL_INJECTORS = {**INJECTORS, **ROLLOUT_INJECTORS, **INFRA_INJECTORS}
DIFFICULTIES = ("easy", "medium", "hard")
_FLAGS = ["new-ranking rollout 10% -> 25%", "async-audit-log enabled",
          "legacy-endpoint disabled for beta cohort", "dark-mode enabled for 50%"]


def _upstream(world: World, start: str, hops: int) -> str:
    """Walk `hops` callers up from `start` (as far as the graph goes)."""
    cur = start
    for _ in range(hops):
        callers = world.callers(cur)
        if not callers:
            break
        cur = world.rng.choice(callers)
    return cur


def _symptom_alert(world: World, tel: Telemetry, name: str, onset: int) -> tuple[dict[str, str],
                                                                                  str]:
    w = world.get(name)
    err = tel.series.get(key("service:errors:ratio_rate1m", namespace=w.namespace,
                             service=name), [0.0])
    lat = tel.series.get(key("service:latency_seconds:p99_1m", namespace=w.namespace,
                             service=name), [1.0])
    err_up = fmean(err[-5:]) - fmean(err[:onset]) if len(err) > onset else 0.0
    lat_up = fmean(lat[-5:]) / max(1e-9, fmean(lat[:onset])) if len(lat) > onset else 1.0
    if err_up > 0.03 or lat_up < 1.5:
        return ({"alertname": "HighErrorRate", "namespace": w.namespace, "service": name},
                f"error ratio of {w.namespace}/{name} above 5% for more than 3 minutes")
    return ({"alertname": "HighLatencyP99", "namespace": w.namespace, "service": name},
            f"p99 latency above threshold on {w.namespace}/{name}")


def _alerts(c: Ctx, inj: Injected) -> list[tuple[dict[str, str], str]]:
    world, rng = c.world, c.world.rng
    chosen: list[tuple[dict[str, str], str]] = []
    if c.difficulty == "easy":
        chosen += inj.alerts
        if inj.symptom and (not inj.alerts or rng.random() < 0.5):
            chosen.append(_symptom_alert(world, c.tel, inj.symptom, c.onset))
    elif inj.symptom:
        hops = 1 if c.difficulty == "medium" else 2
        where = _upstream(world, inj.symptom, hops)
        if inj.fault == "none":
            where = inj.symptom
        chosen.append(_symptom_alert(world, c.tel, where, c.onset))
        if c.difficulty == "medium" and inj.alerts and rng.random() < 0.4:
            chosen += inj.alerts
    return chosen or inj.alerts


def _webhook(c: Ctx, alerts: list[tuple[dict[str, str], str]], resolved: bool) -> dict[str, Any]:
    rng = c.world.rng
    status = "resolved" if resolved else "firing"
    items: list[dict[str, Any]] = []
    for labels, summary in alerts:
        start = c.onset_time + timedelta(seconds=rng.randint(60, 240))
        full = {**labels, "severity": rng.choice(["warning", "critical"]),
                "prometheus": "monitoring/k8s"}
        fp = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:16]
        items.append({"status": status, "labels": full,
                      "annotations": {"summary": summary,
                                      "runbook_url": f"https://runbooks.internal/alerts/"
                                                     f"{labels['alertname']}"},
                      "startsAt": stamp(min(start, c.world.now)),
                      "endsAt": stamp(c.world.now) if resolved else "0001-01-01T00:00:00Z",
                      "generatorURL": "http://prometheus-k8s-0:9090/graph", "fingerprint": fp})
    common = {k: v for k, v in items[0]["labels"].items()
              if all(i["labels"].get(k) == v for i in items)}
    return {"version": "4", "status": status, "receiver": "warroom",
            "groupKey": f"{{}}:{{alertname=\"{common.get('alertname', 'multi')}\"}}",
            "truncatedAlerts": 0, "groupLabels": {"alertname": common.get("alertname", "")},
            "commonLabels": common, "commonAnnotations": {},
            "externalURL": "http://alertmanager.monitoring.svc:9093", "alerts": items}


def _related(world: World, names: list[str]) -> set[str]:
    """Return the names, everything they call and everything that calls them (transitively)."""
    out = set(names)
    for step in (world.callers, world.callees):
        frontier = list(names)
        while frontier:
            nxt = [n for cur in frontier for n in step(cur) if n not in out]
            out.update(nxt)
            frontier = nxt
    return out


def _roll(c: Ctx, w: Workload, at: datetime) -> None:
    """Show a harmless deploy in the pod metrics: new pods' series replace the old at `at`."""
    if w.kind == "Deployment":
        for p in w.pods:
            c.tel.roll_pod(p.name, successor_pod(w.name, p.name, at), at)


def _herrings(c: Ctx, inj: Injected) -> list[dict[str, Any]]:
    """Add red herrings; return the extra change-feed entries."""
    world, rng, tel = c.world, c.world.rng, c.tel
    n = {"easy": rng.randint(0, 1), "medium": rng.randint(1, 2), "hard": rng.randint(2, 4)}[
        c.difficulty]
    changes: list[dict[str, Any]] = []
    culprit = inj.service
    bystanders = [w for w in world.apps() if w.name != culprit and w.name not in inj.touched
                  and w.name != inj.symptom]
    for _ in range(rng.randint(1, 3)):  # feature flags hours ago are everyday noise
        w = rng.choice(world.apps())
        changes.append({"time": stamp(world.now - timedelta(hours=rng.uniform(3, 30))),
                        "kind": "feature_flag", "target": w.target,
                        "description": f"flag {w.name}.{rng.choice(_FLAGS)}"})
    kinds = rng.sample(["deploy", "old_oom", "noisy", "missing", "events", "deploy_upstream",
                        "broken_bystander"], k=min(n, 7))
    related = _related(world, [x for x in (culprit, inj.symptom) if x])
    unrelated = [w for w in bystanders if w.name not in related]
    for kind in kinds:
        if kind == "deploy" and bystanders:
            w = rng.choice(bystanders)
            minutes = rng.uniform(5, 40) if inj.fault != "bad_deploy" else rng.uniform(120, 600)
            at = c.onset_time - timedelta(minutes=minutes)
            _roll(c, w, at)
            changes.append({"time": stamp(at),
                            "kind": "deploy", "target": w.target,
                            "description": f"image {w.name}:{w.version} -> {w.name}:"
                                           f"{w.version}-{rng.getrandbits(24):06x} (bump base "
                                           "image)"})
        elif kind == "deploy_upstream" and inj.symptom and inj.fault not in (
                "bad_deploy", "config_error", "image_pull_error", "probe_failure"):
            # a harmless deploy on a service that feels the fault from below
            callers = world.callers(inj.symptom) if inj.symptom == culprit else [inj.symptom]
            if callers:
                w = world.get(rng.choice(callers))
                at = c.onset_time - timedelta(minutes=rng.uniform(3, 15))
                _roll(c, w, at)
                changes.append({"time": stamp(at),
                                "kind": "deploy", "target": w.target,
                                "description": f"image {w.name}:{w.version} -> {w.name}:"
                                               f"{w.version}-r{rng.randint(2, 9)} (dependency "
                                               "updates)"})
        elif kind == "broken_bystander" and unrelated:
            # a workload far from the incident is broken in its own way (a known, old problem)
            w = rng.choice(unrelated)
            p = w.pods[-1]
            crashloop(c, w, p, reason="Error", exit_code=rng.choice([1, 2, 255]),
                      restarts=rng.randint(20, 300))
            own_logs(c, w, ["fatal: could not connect to legacy-reporting:9000, exiting"],
                     level="error", n=2, pods=[p], previous=True, lo=0.5)
        elif kind == "old_oom" and bystanders:
            w = rng.choice(bystanders)
            p = w.pods[-1]
            if not p.last_state:
                p.restarts = 1
                p.last_state = {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                               "finishedAt": stamp(world.now - timedelta(
                                                   hours=rng.uniform(20, 90)))}}
        elif kind == "noisy" and bystanders:
            w = rng.choice(bystanders)
            p = w.pods[0]
            k = key("pod:cpu_usage:ratio", namespace=w.namespace, pod=p.name, container=w.name)
            tel.bend(k, 0, lambda i, v: v * (2.2 if i % 7 == 3 else 1.0))
            for _ in range(5):
                at = world.now - timedelta(seconds=rng.uniform(30, 1500))
                tel.log(w.namespace, p.name, fmt_line(w.lang, at, "warn", "app",
                                                      "retrying GET /internal/stats (1/3) after "
                                                      "502"), at)
        elif kind == "missing":
            if culprit and inj.namespace and rng.random() < 0.5:
                for k in list(tel.series):
                    d = dict(k)
                    if d.get("service") == culprit and "latency" in d["__name__"]:
                        del tel.series[k]
            else:
                victims = [k for k in tel.series if dict(k)["__name__"].startswith("node:")]
                for k in rng.sample(victims, k=min(3, len(victims))):
                    del tel.series[k]
        elif kind == "events" and bystanders:
            w = rng.choice(bystanders)

            event(world, ns=w.namespace, kind="Pod", name=w.pods[0].name,
                  reason="DNSConfigForming", message="Nameserver limits were exceeded, some "
                  "nameservers have been omitted, the applied nameserver line is: 10.96.0.10 "
                  "10.0.0.2 169.254.169.253", first=world.now - timedelta(hours=3),
                  last=world.now, count=rng.randint(20, 80), host=w.pods[0].node)
    return changes


def build_scenario(index: int, seed: int, fault: str, difficulty: str) -> dict[str, Any]:
    """Build one scenario document."""
    rng = random.Random(f"{seed}:{index}:{fault}:{difficulty}")
    now = (datetime(2026, 1, 5, tzinfo=UTC) + timedelta(days=rng.uniform(0, 300))).replace(
        microsecond=0)
    world = build_world(rng, now)
    tel = Telemetry(rng=rng, now=now)
    baseline(world, tel)
    for w in world.workloads:
        if w.role != "dns" or rng.random() < 0.3:
            background_logs(world, tel, w, n=rng.randint(4, 8))
    c = Ctx(world=world, tel=tel, onset=POINTS - rng.randint(8, 16), difficulty=difficulty)
    inj = ALL_INJECTORS[fault](c)
    changes = [*inj.changes, *_herrings(c, inj)]
    resolved = fault == "none" and rng.random() < 0.4
    alerts = _alerts(c, inj)
    ident = f"gen-{fault.replace('_', '-')}-{difficulty}-{index:03d}"
    title_alert = alerts[0][0]
    where = title_alert.get("service") or title_alert.get("pod") or title_alert.get("node") or ""
    scenario: dict[str, Any] = {
        "format": "warroom-scenario/v1", "id": ident,
        "title": f"{title_alert['alertname']} on {where}", "now": stamp(now),
        "cluster": rng.choice(["prod-eu-1", "prod-us-2", "payments-prod", "shop-prod"]),
        "alerts": [_webhook(c, alerts, resolved)],
        "prometheus": {"step_seconds": STEP, "series": render_series(tel)},
        "kubernetes": {"objects": render_objects(world)},
        "logs": render_logs(world, tel),
        "topology": {"edges": [list(e) for e in world.edges]},
        "changes": sorted(changes, key=lambda ch: ch["time"]),
        "documents": inj.documents,
        "expected": {
            "root_cause": {"namespace": inj.namespace, "service": inj.service,
                           "fault": inj.fault},
            "acceptable_actions": inj.acceptable,
            "forbidden_actions": inj.forbidden,
            "human_required": inj.human_required,
            "difficulty": difficulty,
        },
    }
    return scenario


def generate(out_dir: Path, *, count: int, seed: int) -> list[Path]:
    """Write `count` scenarios to `out_dir`, cycling fault classes and difficulties."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        fault = FAULTS[i % len(FAULTS)]
        difficulty = DIFFICULTIES[(i // len(FAULTS)) % len(DIFFICULTIES)]
        doc = build_scenario(i, seed, fault, difficulty)
        path = out_dir / f"{doc['id']}.json"
        path.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator from the command line."""
    parser = argparse.ArgumentParser(prog="python -m warroom.scenarios.generator",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--count", type=int, default=len(FAULTS) * 4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    try:
        paths = generate(args.out, count=args.count, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} scenarios to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
