"""`bench chaos` in a reduced form: a worker killed and PostgreSQL cut during a storm."""

from __future__ import annotations

import pytest

from warroom.bench.fleet_run import run_chaos

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


# PostgreSQL only: a fleet shares one database (the fixture fails under CI without it)
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_storm_survives_a_killed_worker_and_a_database_outage(database_url: str) -> None:
    lines: list[str] = []
    ok = run_chaos(apis=1, workers=2, incidents=8, kills=1, outage=2.0, sandbox=False,
                   postgres_url=database_url, seed=3, echo=lines.append)
    report = {line.split("  ")[1].strip(): line.rsplit(" ", 1)[-1]
              for line in lines if line.startswith("  ") and "   " in line}
    assert ok, "\n".join(lines)
    assert report["trials (kill -9)"] == "1"
    assert report["alerts acknowledged"] == "8" and report["lost alerts"] == "0"
    assert report["double executions"] == "0"
    assert report["terminal (closed)"] == report["decisions"] != "0"
