"""`warroom bench stats` on a small history: it seeds, asks every endpoint, prints each figure."""

from __future__ import annotations

from warroom.bench.stats_run import ENDPOINTS, run


def test_bench_times_every_endpoint_for_both_windows() -> None:
    lines: list[str] = []
    # the pass/fail verdict is wall-clock and belongs to the command, not to this test
    run(incidents=40, days=10, database_url="", repeat=1, seed=3, echo=lines.append)
    text = "\n".join(lines)
    assert "seeded in" in text and "40 incidents" in text
    for window in ("last 7 days", "all 10 days"):
        for name in ENDPOINTS:
            assert any(window in line and f" {name} " in line and "median" in line
                       for line in lines), (window, name)
    assert "HTTP" not in text  # every request answered 200
