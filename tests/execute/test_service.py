from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from warroom.agents.models import Action, DecisionPackage
from warroom.config import Settings
from warroom.decisions import repository
from warroom.decisions.policy import PolicyVerdict
from warroom.decisions.service import mark_ready, open_decision, transition
from warroom.domain.calls import render_calls
from warroom.execute.ports import ExecutionOutcome
from warroom.execute.service import execute_decision
from warroom.execute.shadow import ShadowExecutor
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.store import audit
from warroom.store.tables import Execution

SCALE = Action(type="scale", target="shop/deployment/checkout", params={"replicas": 4})


class CountingExecutor:
    """A non-shadow executor that counts what it is asked to do."""

    name = "kubernetes"

    def __init__(self, dry_run_status: str = "dry_run_ok") -> None:
        self.dry_run_status = dry_run_status
        self.executed = 0
        self.dry_runs = 0
        self.captures = 0
        self.dry_run_states: list[dict[str, Any] | None] = []

    async def capture_state(self, action: Action) -> dict[str, Any]:
        self.captures += 1
        return {"objects": [{"kind": "Deployment", "spec": {"replicas": 2}}]}

    async def dry_run(self, action: Action, *,
                      state: dict[str, Any] | None = None) -> ExecutionOutcome:
        self.dry_runs += 1
        self.dry_run_states.append(state)
        return ExecutionOutcome(status=self.dry_run_status,  # type: ignore[arg-type]
                                error=None if self.dry_run_status == "dry_run_ok" else "denied")

    async def execute(self, action: Action) -> ExecutionOutcome:
        self.executed += 1
        return ExecutionOutcome(status="succeeded", calls=render_calls(action),
                                result={"code": 200})


@pytest.fixture
async def approved(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, fixtures_dir: Path
) -> Any:
    async def make(action: Action = SCALE) -> str:
        body = json.loads((fixtures_dir / "alertmanager-webhook-firing.json").read_text())
        async with sessions() as session, session.begin():
            result = await ingest_alertmanager(
                session, AlertmanagerWebhook.model_validate(body), settings=settings
            )
            decision, _ = await open_decision(
                session, incident_id=result.incidents[0].id, workflow_id="wf-exec"
            )
            await mark_ready(
                session, decision, DecisionPackage(status="ready", action=action),
                policy=PolicyVerdict(auto_execute=False, requires_approvals=1, executable=True),
                settings=settings,
            )
            await transition(session, decision, "approved", actor="alice")
            return decision.token
    return make


async def _status(sessions: async_sessionmaker[AsyncSession], token: str) -> str:
    async with sessions() as session:
        decision = await repository.get(session, token)
        assert decision is not None
        return decision.status


async def test_executes_once_even_when_asked_twice(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, approved: Any
) -> None:
    token = await approved()
    executor = CountingExecutor()
    first = await execute_decision(sessions, token, executor=executor, settings=settings)
    second = await execute_decision(sessions, token, executor=executor, settings=settings)
    assert first.status == "succeeded" and not first.resumed
    assert second.status == "succeeded" and second.resumed
    assert executor.executed == 1 and executor.dry_runs == 1
    async with sessions() as session:
        rows = list(await repository.executions(session, token))
    assert [(r.idempotency_key, r.status) for r in rows] == [(f"{token}:0", "succeeded")]
    assert rows[0].pre_state == {"objects": [{"kind": "Deployment", "spec": {"replicas": 2}}]}
    # the pre-state is read once and the server-side dry run checks that very state
    assert executor.captures == 1 and executor.dry_run_states == [rows[0].pre_state]
    assert await _status(sessions, token) == "verifying"


async def test_shadow_record_left_started_by_a_crash_is_completed_once(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, approved: Any
) -> None:
    token = await approved()
    async with sessions() as session, session.begin():
        decision = await repository.get(session, token)
        assert decision is not None
        await transition(session, decision, "executing")
        session.add(Execution(
            decision_token=token, idempotency_key=f"{token}:0", executor="shadow",
            status="started", action=SCALE.model_dump(), started_at=datetime.now(UTC),
        ))
    report = await execute_decision(
        sessions, token, executor=ShadowExecutor(), settings=settings
    )
    assert report.status == "succeeded" and report.resumed
    async with sessions() as session:
        rows = list(await repository.executions(session, token))
        calls = await audit.list_events(session, decision_token=token, kind="execution.call")
    assert [r.status for r in rows] == ["succeeded"]
    assert rows[0].request and rows[0].request["body"] == {"spec": {"replicas": 4}}
    assert len(calls) == 1


async def test_real_call_interrupted_by_a_crash_is_never_sent_again(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, approved: Any
) -> None:
    token = await approved()
    async with sessions() as session, session.begin():
        decision = await repository.get(session, token)
        assert decision is not None
        await transition(session, decision, "executing")
        session.add(Execution(
            decision_token=token, idempotency_key=f"{token}:0", executor="kubernetes",
            status="started", action=SCALE.model_dump(), started_at=datetime.now(UTC),
        ))
    executor = CountingExecutor()
    report = await execute_decision(sessions, token, executor=executor, settings=settings)
    assert report.status == "failed" and "human must check" in (report.error or "")
    assert executor.executed == 0
    assert await _status(sessions, token) == "failed"


async def test_hard_rule_refuses_an_approved_action(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, approved: Any
) -> None:
    token = await approved(Action(type="scale", target="shop/deployment/checkout",
                                  params={"replicas": 0}))
    executor = CountingExecutor()
    report = await execute_decision(sessions, token, executor=executor, settings=settings)
    assert report.status == "refused"
    assert executor.executed == 0 and executor.dry_runs == 0
    async with sessions() as session:
        assert list(await repository.executions(session, token)) == []
        refused = await audit.list_events(session, decision_token=token,
                                          kind="execution.refused")
    assert len(refused) == 1
    assert await _status(sessions, token) == "failed"


async def test_failed_server_side_dry_run_stops_before_anything_is_sent(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, approved: Any
) -> None:
    token = await approved()
    executor = CountingExecutor(dry_run_status="failed")
    report = await execute_decision(sessions, token, executor=executor, settings=settings)
    assert report.status == "failed" and report.error == "denied"
    assert executor.executed == 0
    async with sessions() as session:
        assert list(await repository.executions(session, token)) == []


async def test_a_decision_not_approved_is_not_executed(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, approved: Any
) -> None:
    token = await approved()
    async with sessions() as session, session.begin():
        decision = await repository.get(session, token)
        assert decision is not None
        decision.status = "rejected"
    executor = CountingExecutor()
    report = await execute_decision(sessions, token, executor=executor, settings=settings)
    assert report.status == "skipped" and executor.executed == 0


async def test_kubernetes_executor_changes_the_sandbox_once(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, approved: Any
) -> None:
    import httpx

    from warroom.execute.kubernetes import KubernetesExecutor
    from warroom.sandbox.runtime import SandboxRuntime

    sandbox = SandboxRuntime(settings, webhook_url="http://127.0.0.1:9/unused", clock=False)
    token = await approved(Action(type="scale", target="shop/deployment/cart",
                                  params={"replicas": 5}))
    path = "/apis/apps/v1/namespaces/shop/deployments/cart"
    async with sandbox:
        async with httpx.AsyncClient(base_url=sandbox.url) as http:
            before = (await http.get(path)).json()["spec"]["replicas"]
            executor = KubernetesExecutor(str(sandbox.kubeconfig_path))
            report = await execute_decision(sessions, token, executor=executor,
                                            settings=settings)
            again = await execute_decision(sessions, token, executor=executor,
                                           settings=settings)
            after = (await http.get(path)).json()["spec"]["replicas"]
    assert before == 2 and after == 5
    assert report.status == "succeeded" and again.resumed
    async with sessions() as session:
        rows = list(await repository.executions(session, token))
    assert len(rows) == 1 and rows[0].executor == "kubernetes" and rows[0].status == "succeeded"
    assert rows[0].request is not None and rows[0].request["path"].endswith("/cart/scale")
    assert rows[0].pre_state is not None and rows[0].pre_state["objects"]
