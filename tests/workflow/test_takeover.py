"""Takeover with real processes: two API processes, three workers, one killed for good.

Decisions are made in-process with a scripted debate (so each one has an action to approve);
the worker that made them stops, and the fleet takes its waiting workflows over. Then every
decision is approved through the API processes; while the executions are held inside the
execution step (the test-only `execute_pause_seconds` hook), the worker running one of them is
killed with SIGKILL and never restarted. A live worker takes its workflows over within the
takeover bound: every incident's workflow closes, every action is executed exactly once.
"""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from wfkit import ScriptedDebate, wait_for, webhook

from warroom.api.testing import app_client
from warroom.bench.processes import free_port, mint_token, start_warroom, stop
from warroom.config import Settings
from warroom.store import audit
from warroom.store.db import make_engine, make_sessionmaker
from warroom.store.tables import Decision, Execution, WorkerRow
from warroom.workflow.steps import act_workflow_id

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

WARROOM = str(Path(sys.executable).parent / "warroom")
HEARTBEAT, TAKEOVER = 0.5, 4.0
INCIDENTS = 4


@pytest.fixture
def pg_settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings on the test's own PostgreSQL database (child processes share it)."""
    return Settings(  # type: ignore[call-arg]
        home=tmp_path / "home", database_url=database_url, _env_file=None,
        workflow_poll_seconds=0.02, execution_poll_seconds=0.02, verify_warmup_seconds=0.05,
        approval_timeout_seconds=300, worker_heartbeat_seconds=HEARTBEAT,
        worker_takeover_seconds=TAKEOVER,
    )


def alert(service: str) -> dict[str, Any]:
    """Return the fixture webhook moved to its own service (hence its own incident)."""
    body = copy.deepcopy(webhook())
    for item in body["alerts"]:
        item["labels"]["service"] = service
        item["fingerprint"] = uuid.uuid5(uuid.NAMESPACE_DNS, service).hex[:16]
    return body


def env_of(settings: Settings) -> dict[str, str]:
    return {
        "WARROOM_HOME": str(settings.home),
        "WARROOM_DATABASE_URL": settings.effective_database_url,
        "WARROOM_WORKFLOW_POLL_SECONDS": "0.02",
        "WARROOM_VERIFY_WARMUP_SECONDS": "0.05",
        "WARROOM_APPROVAL_TIMEOUT_SECONDS": "300",
        "WARROOM_WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT),
        "WARROOM_WORKER_TAKEOVER_SECONDS": str(TAKEOVER),
    }


def start_worker(name: str, env: dict[str, str], tmp: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [WARROOM, "worker"], cwd=tmp, stdout=out, stderr=out, start_new_session=True,
            env={**os.environ, **env, "WARROOM_POD_NAME": name,
                 # hold every execution inside its step long enough to kill its worker there
                 "WARROOM_EXECUTE_PAUSE_SECONDS": "2"},
        )
    return proc, log


def wait_ready(proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while b"warroom worker ready" not in log.read_bytes():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"worker did not start:\n{log.read_text()}"
        time.sleep(0.05)


# PostgreSQL only: several processes share the database (the fixture fails under CI without it)
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_worker_killed_mid_execution_is_taken_over_and_executes_once(
    pg_settings: Settings, tmp_path: Path
) -> None:
    from dbos import DBOSClient

    engine = make_engine(pg_settings.effective_database_url)
    sessions = make_sessionmaker(engine)

    async def decisions(status: str | None = None) -> list[Decision]:
        async with sessions() as session:
            rows = list((await session.execute(select(Decision))).scalars().all())
        return [d for d in rows if status is None or d.status == status]

    debate = ScriptedDebate()
    async with app_client(
        pg_settings, runtime={"analyzer": debate}
    ) as client:
        for n in range(INCIDENTS):
            response = await client.post("/api/v1/alerts/alertmanager", json=alert(f"svc{n}"))
            assert response.status_code == 202, response.text
        # the in-process worker makes the decisions, then stops with their workflows waiting
        ready = await wait_for(lambda: _all(decisions("ready")), timeout=60,
                               what="every decision ready")

    env = env_of(pg_settings)
    workers = {f"w{n}": start_worker(f"w{n}", env, tmp_path) for n in range(3)}
    apis: list[subprocess.Popen[bytes]] = []
    dbos = DBOSClient(system_database_url=pg_settings.effective_dbos_database_url,
                      application_name="warroom")
    try:
        ports = [free_port(), free_port()]
        apis = [
            await asyncio.to_thread(start_warroom, port, env, tmp_path / f"api{i}.log",
                                    ("--no-worker",))
            for i, port in enumerate(ports)
        ]
        for proc, log in workers.values():
            await asyncio.to_thread(wait_ready, proc, log)
        # the fleet takes over the waiting workflows of the in-process worker that stopped
        alice = await asyncio.to_thread(mint_token, pg_settings.effective_database_url,
                                        "alice", "approver")
        for i, decision in enumerate(ready):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[i % 2]}",
                                         timeout=30,
                                         headers={"Authorization": f"Bearer {alice}"}) as http:
                response = await http.post(f"/api/v1/decisions/{decision.token}/approve",
                                           json={})
                assert response.status_code == 200, response.text

        async def started() -> Execution | None:
            async with sessions() as session:
                return (await session.execute(
                    select(Execution).where(Execution.status == "started").limit(1)
                )).scalar_one_or_none()

        held = await wait_for(started, timeout=60, what="an execution in flight")
        token = held.decision_token
        workflow_id = next(d.workflow_id for d in ready if d.token == token)
        assert workflow_id is not None
        status = await asyncio.to_thread(
            lambda: dbos.retrieve_workflow(f"{act_workflow_id(workflow_id)}:execute")
            .get_status()
        )
        victim = str(status.executor_id)
        name = victim.rsplit("-", 1)[0]
        proc, _ = workers[name]
        proc.send_signal(signal.SIGKILL)  # never restarted
        proc.wait(10)
        killed_at, killed_epoch = time.monotonic(), time.time()

        closed = await wait_for(lambda: _all_closed(sessions, ready), timeout=TAKEOVER + 30,
                                what="every workflow closed")
        took = time.monotonic() - killed_at
    finally:
        await asyncio.to_thread(dbos.destroy)
        for api in apis:
            stop(api)
        for proc, _ in workers.values():
            stop(proc)

    async with sessions() as session:
        executions = list((await session.execute(select(Execution))).scalars().all())
        calls = [await audit.list_events(session, decision_token=d.token, kind="execution.call")
                 for d in ready]
        dead = await session.get(WorkerRow, victim)
    await engine.dispose()
    print(f"every workflow closed {took:.1f} s after the kill (takeover bound {TAKEOVER:g} s)")
    assert closed and took < TAKEOVER + 20, f"took {took:.1f} s after the kill"
    assert sorted(e.decision_token for e in executions) == sorted(d.token for d in ready)
    assert all(e.status == "succeeded" for e in executions)
    assert [len(c) for c in calls] == [1] * INCIDENTS
    assert dead is not None and dead.state == "recovered" and dead.recovered >= 1
    # claimed within the bound (plus a heartbeat, and slack for a loaded machine)
    assert dead.taken_over_at is not None
    assert dead.taken_over_at - killed_epoch < TAKEOVER + HEARTBEAT + 3
    assert dead.taken_over_by is not None and not dead.taken_over_by.startswith(name)
    assert debate.calls and len(set(debate.calls)) == INCIDENTS


async def _all(probe: Any) -> list[Decision] | None:
    found = list(await probe)
    return found if len(found) == INCIDENTS else None


async def _all_closed(sessions: Any, ready: list[Decision]) -> bool:
    async with sessions() as session:
        for decision in ready:
            if not await audit.list_events(session, decision_token=decision.token,
                                           kind="workflow.closed"):
                return False
    return True
