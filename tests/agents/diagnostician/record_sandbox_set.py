"""Record the committed sandbox regression subset (an independent check on the rules).

    uv run python tests/agents/diagnostician/record_sandbox_set.py scenarios/regression-sandbox

Every fault class once at difficulty 2 (seed 21), and the classes whose evidence differs most
from the project's own generator again at a harder difficulty (seed 22): 27 recordings, about
8 MB. Same seeds, same scenarios; the files are written compact (no indentation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from warroom.agents.models import FAULTS
from warroom.sandbox.recording import record

# (fault, difficulty, seed): difficulty 4 adds red herrings; cpu_saturation fires no alert there
HARDER = [("memory_leak", 4), ("memory_limit_too_low", 4), ("network_latency", 4),
          ("probe_failure", 4), ("traffic_surge", 4), ("none", 4), ("bad_deploy", 4),
          ("config_error", 4), ("cpu_saturation", 3)]
PLAN = [(fault, 2, 21) for fault in FAULTS] + [(fault, d, 22) for fault, d in HARDER]


def main(argv: list[str]) -> int:
    """Write the subset into the folder given as the only argument."""
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for fault, difficulty, seed in PLAN:
        scenario = record(fault, difficulty=difficulty, seed=seed)
        path = out / f"sandbox-{fault.replace('_', '-')}-d{difficulty}-s{seed}.json"
        path.write_text(json.dumps(scenario, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
