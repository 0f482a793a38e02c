"""`bench chaos` in a reduced form: a worker killed and PostgreSQL cut during a storm."""

from __future__ import annotations

import pytest

from warroom.bench.fleet_run import run_chaos

# minutes of real processes: the chaos tier, `./scripts/test-chaos` (CI runs it after the suite)
pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.chaos]


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


# PostgreSQL and Redis: the fleet shares one database and fans events out to Redis
@pytest.mark.redis
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_executions_survive_a_faulty_kubernetes_api_redis_down_and_a_dead_model(
        database_url: str, redis_url: str) -> None:
    lines: list[str] = []
    ok = run_chaos(apis=1, workers=2, incidents=6, kills=0, outage=0.0, sandbox=True,
                   postgres_url=database_url, seed=5, echo=lines.append, kube_fault_rate=0.5,
                   redis_url=redis_url, model_outage=2, settle=180)
    text = "\n".join(lines)
    assert ok, text
    report = {line.split("  ")[1].strip(): line.split("  ", 2)[-1].strip()
              for line in lines if line.startswith("  ") and "   " in line}
    assert report["lost alerts"] == "0" and report["double executions"] == "0"
    assert report["writes applied twice"] == "0"
    assert "faults injected 0:" not in report["kubernetes calls"]
    assert "redis-down" in report["faults injected"]
    assert report["terminal (closed)"] == report["decisions"] != "0"
    assert "0 past the 20 s deadline" in report["debate (open -> ready)"]
