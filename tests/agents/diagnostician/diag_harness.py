"""Measure the rule Diagnostician directly on scenario folders: RCA@1/@3, Loc@1, calibration.

    uv run python tests/agents/diagnostician/diag_harness.py \
        scenarios/regression ../shared/scenarios

It builds the evidence snapshot from the scenario fields (what the replay sensors serve) and
scores the hypotheses against `expected`; `--failures` lists the misses, `--calibrate` fits the
confidence map on the given folders.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from warroom.agents.diagnostician.calibration import reliability
from warroom.agents.diagnostician.rules import diagnose_snapshot
from warroom.agents.models import DiagnosisReport
from warroom.scenarios.models import Scenario
from warroom.sensors.mesh import calls
from warroom.sensors.models import AlertView, EvidenceSnapshot


def snapshot_from_scenario(sc: Scenario) -> EvidenceSnapshot:
    """Build the evidence snapshot a replay of this scenario would give the agents."""
    alerts = [AlertView(status=a.status, labels=a.labels, annotations=a.annotations,
                        starts_at=a.starts_at, ends_at=a.ends_at, fingerprint=a.fingerprint)
              for hook in sc.alerts for a in hook.alerts]
    end = sc.now.timestamp()
    series = [s.model_copy(update={"values": [v for v in s.values if v[0] <= end]})
              for s in sc.prometheus.series]
    kept = [s for s in series if s.values]
    # the calls a mesh or a service graph counted are call graph edges, as take_snapshot adds
    edges = list(dict.fromkeys([*sc.topology.edges, *calls(kept)]))
    return EvidenceSnapshot(now=sc.now, alerts=alerts, series=kept,
                            objects=list(sc.kubernetes.objects), logs=list(sc.logs),
                            topology=edges,
                            changes=[c for c in sc.changes if c.time <= sc.now],
                            documents=list(sc.documents))


def load(paths: list[Path]) -> list[Scenario]:
    """Load every scenario file under the given folders or files."""
    out = []
    for p in paths:
        files = sorted(p.glob("*.json")) if p.is_dir() else [p]
        for f in files:
            out.append(Scenario.model_validate_json(f.read_text(encoding="utf-8")))
    return out


def judge(sc: Scenario, report: DiagnosisReport) -> tuple[bool, bool, bool]:
    """Return (RCA@1, RCA@3, Localisation@1) of a report."""
    assert sc.expected is not None
    roots = [sc.expected.root_cause, *sc.expected.also_root_cause]
    keys = [(h.namespace, h.service, h.fault) for h in report.hypotheses]
    want = {(r.namespace, r.service, r.fault) for r in roots}
    places = {(r.namespace, r.service) for r in roots}
    return (bool(keys) and keys[0] in want, any(k in want for k in keys[:3]),
            bool(keys) and keys[0][:2] in places)


ABLATIONS = ("logs", "events", "series", "topology", "changes", "objects")


def ablate(snap: EvidenceSnapshot, what: str | None) -> EvidenceSnapshot:
    """Drop one evidence dimension, as when a sensor fails."""
    if what is None:
        return snap
    if what == "events":
        return snap.model_copy(update={"objects": [o for o in snap.objects
                                                   if o.get("kind") != "Event"]})
    return snap.model_copy(update={what: []})


def run(scenarios: list[Scenario], drop: str | None = None) -> list[dict[str, Any]]:
    """Diagnose every scenario (optionally without one evidence dimension) and judge it."""
    rows = []
    for sc in scenarios:
        snap = ablate(snapshot_from_scenario(sc), drop)
        t0 = time.perf_counter()
        report = diagnose_snapshot(snap)
        ms = (time.perf_counter() - t0) * 1000
        r1, r3, l1 = judge(sc, report)
        assert sc.expected is not None
        top = report.hypotheses[0] if report.hypotheses else None
        second = report.hypotheses[1].confidence if len(report.hypotheses) > 1 else 0.0
        rows.append({"id": sc.id, "fault": sc.expected.root_cause.fault, "rca1": r1, "rca3": r3,
                     "loc1": l1, "ms": ms, "confidence": top.confidence if top else 0.0,
                     "second": second,
                     "abstain": report.abstain, "summary": report.summary,
                     "got": [(h.namespace, h.service, h.fault, h.confidence)
                             for h in report.hypotheses[:3]],
                     "want": sc.expected.root_cause.model_dump()})
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Format per-fault and overall RCA@1/@3/Loc@1."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by[r["fault"]].append(r)
    lines = [f"{'fault':<22}{'n':>4}{'RCA@1':>8}{'RCA@3':>8}{'Loc@1':>8}"]
    for fault in sorted(by):
        g = by[fault]
        lines.append(f"{fault:<22}{len(g):>4}" + "".join(
            f"{sum(r[k] for r in g) / len(g):>8.2f}" for k in ("rca1", "rca3", "loc1")))
    n = len(rows)
    lines.append(f"{'overall':<22}{n:>4}" + "".join(
        f"{sum(r[k] for r in rows) / n:>8.2f}" for k in ("rca1", "rca3", "loc1")))
    ms = sorted(r["ms"] for r in rows)
    lines.append(f"latency p50 {ms[len(ms) // 2]:.1f} ms, p95 "
                 f"{ms[min(len(ms) - 1, math.ceil(0.95 * len(ms)) - 1)]:.1f} ms")
    bins, ece = reliability([(r["confidence"], r["rca1"]) for r in rows])
    lines.append(f"calibration (top confidence vs RCA@1), ECE {ece:.3f}:")
    for b in bins:
        lines.append(f"  [{b.lo:.1f},{b.hi:.1f}) n={b.count:<3} mean conf "
                     f"{b.mean_confidence:.2f}  accuracy {b.accuracy:.2f}")
    return "\n".join(lines)


def fit_platt(rows: list[dict[str, Any]], l2: float = 0.05,
              use_margin: bool = True) -> tuple[float, float, float]:
    """Fit P(correct) = sigmoid(a*logit(conf) + b*margin + c) by Newton steps (raw conf in).

    A larger lead over the runner-up must never lower confidence: when the free fit gives the
    margin a negative weight, it is refitted without it.
    """
    xs = []
    for r in rows:
        s = min(max(r["confidence"], 1e-4), 1 - 1e-4)
        margin = r["confidence"] - r["second"] if use_margin else 0.0
        xs.append((math.log(s / (1 - s)), margin, 1.0, float(r["rca1"])))
    w = [1.0, 0.0, 0.0]
    for _ in range(50):
        g = [0.0, 0.0, 0.0]
        h = [[0.0] * 3 for _ in range(3)]
        for x0, x1, x2, y in xs:
            x = (x0, x1, x2)
            p = 1 / (1 + math.exp(-sum(wi * xi for wi, xi in zip(w, x, strict=True))))
            for i in range(3):
                g[i] += (p - y) * x[i]
                for j in range(3):
                    h[i][j] += p * (1 - p) * x[i] * x[j]
        for i in range(3):
            g[i] += l2 * (w[i] - (1.0 if i == 0 else 0.0))
            h[i][i] += l2
        step = _solve(h, g)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    if use_margin and w[1] < 0:
        return fit_platt(rows, l2, use_margin=False)
    return w[0], w[1], w[2]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[piv] = m[piv], m[c]
        for r in range(n):
            if r != c and m[c][c]:
                f = m[r][c] / m[c][c]
                m[r] = [x - f * y for x, y in zip(m[r], m[c], strict=True)]
    return [m[i][n] / m[i][i] if m[i][i] else 0.0 for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    """Print the table for the given folders."""
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--failures", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--calibrate", action="store_true",
                    help="fit the confidence map (run with identity constants in calibration.py)")
    args = ap.parse_args(argv)
    if args.calibrate:
        scenarios = load(args.paths)
        rows = [r for drop in (None, *ABLATIONS) for r in run(scenarios, drop)]
        a, b, c = fit_platt(rows)
        print(f"fitted on {len(rows)} runs (every scenario whole and without each dimension): "
              f"_A, _B, _C = {a:.3f}, {b:.3f}, {c:.3f}")
        print(table(rows))
        return 0
    for p in args.paths:
        rows = run(load([p]))
        if args.json:
            print(json.dumps(rows, default=str))
            continue
        print(f"== {p}")
        print(table(rows))
        if args.failures:
            for r in rows:
                if not r["rca1"]:
                    print(f"  MISS {r['id']}: want {r['want']} got {r['got']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
