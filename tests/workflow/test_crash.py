"""Crash tests with real processes: `warroom worker` killed with SIGKILL, then restarted.

Every restarted process is a new worker (a new id): it takes the killed one's workflows over.

Once while the workflow waits for approval, once in the middle of the execution step (the
test-only `execute_pause_seconds` hook holds the step after its idempotency record is
committed). After each restart the workflow resumes from its last completed step, and the
action is executed exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from wfkit import ScriptedDebate, decision_of, post_alert, wait_for

from warroom.access.models import Role
from warroom.api.testing import app_client
from warroom.config import Settings
from warroom.store import audit
from warroom.store.db import make_engine, make_sessionmaker
from warroom.store.tables import Execution

pytestmark = pytest.mark.integration

WARROOM = str(Path(sys.executable).parent / "warroom")
# every restart is a new worker id: it takes the killed worker's workflows over after this bound
FAST_TAKEOVER = {"WARROOM_WORKER_HEARTBEAT_SECONDS": "0.5", "WARROOM_WORKER_TAKEOVER_SECONDS": "3"}


class Worker:
    """A `warroom worker` process with the test's settings in its environment."""

    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.env = {
            **os.environ,
            "WARROOM_HOME": str(settings.home),
            "WARROOM_DATABASE_URL": settings.effective_database_url,
            "WARROOM_WORKFLOW_POLL_SECONDS": str(settings.workflow_poll_seconds),
            "WARROOM_EXECUTION_POLL_SECONDS": str(settings.execution_poll_seconds),
            "WARROOM_VERIFY_WARMUP_SECONDS": str(settings.verify_warmup_seconds),
            "WARROOM_APPROVAL_TIMEOUT_SECONDS": str(settings.approval_timeout_seconds),
            **FAST_TAKEOVER,
        }
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, **env: str) -> None:
        self.starts += 1
        self.log = self.tmp / f"worker-{self.starts}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [WARROOM, "worker"], env={**self.env, **env}, stdout=log, stderr=log,
                cwd=self.tmp,
            )
        deadline = time.monotonic() + 60
        while b"warroom worker ready" not in self.log.read_bytes():
            assert self.proc.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "worker did not start"
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.log.read_text()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def crash_settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings a child process can reach: the test's own database (see `database_url`)."""
    return Settings(  # type: ignore[call-arg]
        home=tmp_path / "home", database_url=database_url, _env_file=None,
        workflow_poll_seconds=0.02, execution_poll_seconds=0.02, verify_warmup_seconds=0.05,
        approval_timeout_seconds=120,
    )


@pytest.fixture
def worker(crash_settings: Settings, tmp_path: Path) -> Iterator[Worker]:
    w = Worker(crash_settings, tmp_path)
    yield w
    w.stop()


async def test_worker_killed_while_waiting_and_mid_execution_executes_once(
    crash_settings: Settings, worker: Worker
) -> None:
    debate = ScriptedDebate()
    # the embedded worker senses, debates and decides; it stops with the workflow waiting
    async with app_client(
        crash_settings, runtime={"analyzer": debate}
    ) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
    token = decision["token"]

    api_only = crash_settings.model_copy(update={"embedded_worker": False})
    engine = make_engine(crash_settings.effective_database_url)
    sessions = make_sessionmaker(engine)

    async def rows(status: str | None = None) -> list[Execution]:
        async with sessions() as session:
            found = list((await session.execute(
                select(Execution).where(Execution.decision_token == token)
            )).scalars().all())
        return [r for r in found if status is None or r.status == status]

    try:
        # 1. the worker resumes the wait for approval, and dies in it
        worker.start()
        await asyncio.sleep(1.0)
        worker.kill9()
        # 2. a new worker waits on; the approval reaches it; it dies inside the execution step
        worker.start(WARROOM_EXECUTE_PAUSE_SECONDS="60")
        async with app_client(api_only) as client:
            response = await client.post(f"/api/v1/decisions/{token}/approve",
                                         json={"approver": "alice", "comment": "crash me"})
            assert response.status_code == 200, response.text
            await wait_for(lambda: rows("started"), timeout=30, what="the idempotency record")
            worker.kill9()
            assert await rows("succeeded") == []
            # 3. the restarted worker re-runs the interrupted step: it completes the record
            worker.start()
            await wait_for(lambda: rows("succeeded"), timeout=30, what="the execution")
            view = (await client.get(f"/api/v1/decisions/{token}")).json()
            timeline = await wait_for(
                lambda: _closed(client, incident_id), timeout=30, what="workflow closed"
            )
    finally:
        worker.stop()

    executions = await rows()
    assert len(executions) == 1 and executions[0].status == "succeeded"
    assert len(view["executions"]) == 1
    async with sessions() as session:
        calls = await audit.list_events(session, decision_token=token, kind="execution.call")
        started = await audit.list_events(session, decision_token=token, kind="execution.started")
        ready = await audit.list_events(session, decision_token=token, kind="decision.ready")
        approved = await audit.list_events(session, decision_token=token,
                                           kind="decision.approved")
    await engine.dispose()
    assert len(calls) == 1 and len(started) == 1
    assert len(ready) == 1 and len(approved) == 1  # completed steps were not run again
    assert debate.calls == [incident_id]
    assert [e["kind"] for e in timeline].count("workflow.closed") == 1


async def _closed(client: Any, incident_id: str) -> list[dict[str, Any]] | None:
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]
    return timeline if any(e["kind"] == "workflow.closed" for e in timeline) else None


async def test_serve_killed_while_waiting_resumes_its_workflow_on_restart(
    crash_settings: Settings, tmp_path: Path
) -> None:
    import httpx

    from warroom.bench.processes import free_port, start_warroom, stop

    debate = ScriptedDebate()
    async with app_client(
        crash_settings, runtime={"analyzer": debate}
    ) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        bearer = {"Authorization": f"Bearer {await client.token_for('alice', Role.admin)}"}
    token = decision["token"]
    env = {"WARROOM_HOME": str(crash_settings.home),
           "WARROOM_DATABASE_URL": crash_settings.effective_database_url,
           "WARROOM_WORKFLOW_POLL_SECONDS": "0.02", "WARROOM_VERIFY_WARMUP_SECONDS": "0.05",
           **FAST_TAKEOVER}
    port = free_port()
    serve = await asyncio.to_thread(start_warroom, port, env, tmp_path / "serve-1.log")
    await asyncio.sleep(1.0)  # it resumes the wait for approval
    serve.send_signal(signal.SIGKILL)
    serve.wait(10)
    serve = await asyncio.to_thread(start_warroom, port, env, tmp_path / "serve-2.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                     headers=bearer) as http:
            response = await http.post(f"/api/v1/decisions/{token}/approve",
                                       json={"approver": "alice"})
            assert response.status_code == 200, response.text
            timeline = await wait_for(lambda: _closed(http, incident_id), timeout=30,
                                      what="workflow closed")
            view = (await http.get(f"/api/v1/decisions/{token}")).json()
    finally:
        stop(serve)
    assert len(view["executions"]) == 1 and view["executions"][0]["status"] == "succeeded"
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("execution.call") == 1 and kinds.count("decision.ready") == 1
    assert debate.calls == [incident_id]
