"""Candidates: the findings for one (place, fault) combined by noisy-OR, and the faults that
compete on one place resolved (a deploy against the code it shipped, a surge against the CPU
it drives, a probe against the crash behind it)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from warroom.agents.diagnostician.findings import Finding
from warroom.agents.diagnostician.index import Entity


@dataclass
class Candidate:
    """One (place, fault) hypothesis, the findings behind it, its score and where it sits."""

    entity: Entity
    fault: str
    findings: list[Finding]
    score: float = 0.0
    place: str = ""

    @property
    def generic(self) -> bool:
        return all(f.generic for f in self.findings)


def noisy_or(findings: list[Finding]) -> float:
    """Combine the findings of one candidate as independent evidence (noisy-OR), each piece
    of evidence text counted once and no single finding above 0.95."""
    seen: set[str] = set()
    miss = 1.0
    for f in sorted(findings, key=lambda f: -f.weight):
        if f.evidence in seen:
            continue
        seen.add(f.evidence)
        miss *= 1 - max(0.0, min(0.95, f.weight))
    return 1 - miss


def resolve_competing(cands: dict[tuple[Entity, str], Candidate]) -> None:
    """Resolve faults that compete on the same place (deploy vs code, surge vs CPU, probes)."""
    by_ent: dict[Entity, dict[str, Candidate]] = defaultdict(dict)
    for (ent, fault), c in cands.items():
        by_ent[ent][fault] = c
    for faults in by_ent.values():
        def s(name: str, faults: dict[str, Candidate] = faults) -> float:
            return faults[name].score if name in faults else 0.0

        # the workload itself fails requests (its own exceptions or crashes), not only probes
        code_fails = s("application_error") >= 0.4 and any(
            f.source in ("logs", "kubernetes") for f in faults["application_error"].findings)
        if "application_error" in faults and max(s("bad_deploy"), s("config_error")) >= 0.5:
            faults["application_error"].score *= 0.5
        if "bad_deploy" in faults and s("config_error") >= 0.6:
            faults["bad_deploy"].score *= 0.6
        if "bad_deploy" in faults and (
                max(s("image_pull_error"), s("memory_limit_too_low")) >= 0.6
                or (s("probe_failure") >= 0.6 and not code_fails)):
            # the rollout is how the fault arrived; the fault says what to change
            faults["bad_deploy"].score *= 0.55
        if "cpu_saturation" in faults and s("traffic_surge") >= 0.5:
            faults["cpu_saturation"].score *= 0.6
        if "traffic_surge" in faults and s("traffic_surge") < 0.5:
            faults["traffic_surge"].score *= 0.7
        if "memory_leak" in faults and s("memory_limit_too_low") >= 0.75 and s("memory_leak") < 0.7:
            faults["memory_leak"].score *= 0.7
        if "memory_limit_too_low" in faults and s("memory_leak") >= 0.75:
            faults["memory_limit_too_low"].score *= 0.75
        if "probe_failure" in faults:
            other = max((c.score for f, c in faults.items()
                         if f != "probe_failure" and not c.generic), default=0.0)
            if other >= s("probe_failure") or (code_fails and s("bad_deploy") >= 0.5):
                faults["probe_failure"].score *= 0.6
        if "application_error" in faults and s("config_error") >= 0.4:
            faults["application_error"].score *= 0.5
        if s("config_error") >= 0.4 and s("bad_deploy") >= 0.5 and any(
                f.source == "logs" for f in faults["config_error"].findings):
            # a rollout whose new pods fail on their configuration: the config rolled out
            cfg = faults["config_error"]
            cfg.score = 1 - (1 - cfg.score) * (1 - 0.5 * s("bad_deploy"))
            faults["bad_deploy"].score *= 0.6
