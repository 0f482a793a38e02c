"""Replay scenarios rules-only, hybrid with `test:agree` and hybrid with `test:hang`.

`test:agree` answers in microseconds, so everything the hybrid run adds over rules-only is the
model path's own cost (prompt, evidence rendering, pydantic-ai, validation, records): its
overhead, set against `model_seconds`, a model's answer time. The `test:hang` run gives the
decision latency when the provider never answers, against the configured global deadline.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warroom.config import Settings
from warroom.scenarios.replay import Replayer, load_scenario, scenario_paths


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def _replay(scenarios: list[Any], settings: Settings) -> list[dict[str, Any]]:
    # lazy: cold import cost (python -X importtime): warroom.llm.debate ~869 ms (pulls
    # opentelemetry, prometheus_client, sqlalchemy); kept off the module's import path
    from warroom.llm.debate import LanguageModels

    async with Replayer(settings, models=LanguageModels()) as replayer:
        if scenarios:  # warm the model path once, so no row pays a first import
            await replayer.replay(scenarios[0])
        lines = []
        for s in scenarios:
            cpu = time.process_time()
            line = await replayer.replay(s)
            # CPU time is what a loaded machine distorts least
            line["cpu_ms"] = (time.process_time() - cpu) * 1000
            lines.append(line)
        return lines


def run(folder: Path, *, limit: int, model_seconds: float, agent_deadline: float,
        debate_deadline: float, echo: Callable[[str], None]) -> bool:
    """Run the three replays and print the figures; return whether both targets hold."""
    scenarios = [load_scenario(p) for p in scenario_paths([folder])[:limit]]
    base = Settings(_env_file=None)
    rules = asyncio.run(_replay(scenarios, base))
    agree = asyncio.run(_replay(scenarios, base.model_copy(update={
        "agent_backend": "hybrid", "llm_model": "test:agree", "llm_cache_ttl_seconds": 0})))
    extra, extra_cpu, turns = [], [], 0
    for r, a in zip(rules, agree, strict=True):
        asked = sum(1 for t in a["agents"] if "model" in t) + 1  # and the summary
        turns += asked
        extra.append((a["latency_ms"] - r["latency_ms"]) / asked)
        extra_cpu.append((a["cpu_ms"] - r["cpu_ms"]) / asked)
    per_turn = statistics.median(extra) if extra else 0.0
    per_turn_cpu = statistics.median(extra_cpu) if extra_cpu else 0.0
    share = per_turn / (model_seconds * 1000)
    load = os.getloadavg()[0]
    echo(f"{len(scenarios)} scenarios from {folder}; {turns} model calls; load average "
         f"{load:.1f} on {os.cpu_count()} CPUs (wall figures inflate with load, CPU less)")
    echo(f"decision p50 rules-only {_pct([r['latency_ms'] for r in rules], .5):.0f} ms, "
         f"hybrid test:agree {_pct([a['latency_ms'] for a in agree], .5):.0f} ms")
    echo(f"model-path overhead per model call (median): {per_turn:.1f} ms wall, "
         f"{per_turn_cpu:.1f} ms CPU = {share:.2%} (wall) / "
         f"{per_turn_cpu / (model_seconds * 1000):.2%} (CPU) of a {model_seconds:g} s model "
         "answer (target < 5 %)")
    hang = asyncio.run(_replay(scenarios, base.model_copy(update={
        "agent_backend": "hybrid", "llm_model": "test:hang",
        "agent_deadline_seconds": agent_deadline, "debate_deadline_seconds": debate_deadline,
        "llm_reserve_seconds": min(1.0, agent_deadline / 4)})))
    latencies = [h["latency_ms"] for h in hang]
    ready = sum(1 for h in hang if h["decision"]["status"] in ("ready", "blocked"))
    p95 = _pct(latencies, .95)
    echo(f"provider that hangs (agent deadline {agent_deadline:g} s, global "
         f"{debate_deadline:g} s): decision p50 {_pct(latencies, .5):.0f} ms, p95 {p95:.0f} ms, "
         f"max {max(latencies, default=0):.0f} ms; {ready}/{len(hang)} decided with the "
         "rule answer")
    cpu_share = per_turn_cpu / (model_seconds * 1000)
    return cpu_share < 0.05 and p95 < debate_deadline * 1000 and ready == len(hang)
