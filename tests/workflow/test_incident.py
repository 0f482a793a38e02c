"""End to end through the real app and its embedded worker: webhook to closed incident."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.exc import OperationalError
from wfkit import ScriptedDebate, decision_of, package, post_alert, wait_for, webhook

from warroom.agents.models import Action
from warroom.ingest.models import AlertmanagerWebhook
from warroom.ingest.service import ingest_alertmanager
from warroom.store.db import make_sessionmaker
from warroom.store.tables import Playbook


async def _view(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/decisions/{token}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _status(client: httpx.AsyncClient, token: str, *states: str) -> dict[str, Any] | None:
    view = await _view(client, token)
    return view if view["status"] in states else None


async def _closed(client: httpx.AsyncClient, incident_id: str) -> list[dict[str, Any]] | None:
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]
    return timeline if any(e["kind"] == "workflow.closed" for e in timeline) else None


async def test_webhook_to_closed_incident_with_every_step_audited(workflow_app: Any) -> None:
    debate = ScriptedDebate()
    async with workflow_app(debate) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        token = decision["token"]
        response = await client.post(f"/api/v1/decisions/{token}/approve",
                                     json={"approver": "alice", "comment": "go"})
        assert response.status_code == 200, response.text
        # the alert clears during the warm-up, so verification sees it resolved
        await wait_for(lambda: _status(client, token, "executing", "verifying", "completed"),
                       what="execution")
        await post_alert(client, "resolved")
        timeline = await wait_for(lambda: _closed(client, incident_id), what="workflow closed")
        view = await _view(client, token)
        detail = (await client.get(f"/api/v1/incidents/{incident_id}")).json()

    assert view["status"] == "completed"
    assert [a["approver"] for a in view["approvals"]] == ["alice"]
    assert len(view["executions"]) == 1
    execution = view["executions"][0]
    assert execution["executor"] == "shadow" and execution["status"] == "succeeded"
    assert execution["request"]["method"] == "PATCH"
    assert execution["request"]["path"].endswith("/namespaces/shop/deployments/checkout/scale")
    assert execution["request"]["body"] == {"spec": {"replicas": 4}}
    assert view["verifications"][0]["verdict"] == "success"
    assert detail["status"] == "resolved"
    assert detail["decision"]["token"] == token
    kinds = [e["kind"] for e in timeline]
    order = ["agent.turn", "decision.ready", "decision.approval", "decision.approved",
             "decision.executing", "execution.started", "execution.call", "decision.verifying",
             "verification.recorded", "decision.completed", "learn.updated", "workflow.closed"]
    positions = [kinds.index(k) for k in order]
    assert positions == sorted(positions), kinds
    assert next(e for e in timeline if e["kind"] == "decision.approval")["actor"] == "alice"
    assert debate.calls == [incident_id]


async def test_resent_alert_reuses_the_running_workflow(workflow_app: Any) -> None:
    debate = ScriptedDebate()
    async with workflow_app(debate) as client:
        incident_id = await post_alert(client)
        await post_alert(client)
        first = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                               what="a ready decision")
        await post_alert(client)
        again = await decision_of(client, incident_id)
    assert again is not None and again["token"] == first["token"]
    assert len(again["decisions"]) == 1
    assert debate.calls == [incident_id]


async def test_low_risk_trusted_playbook_auto_executes(
    workflow_app: Any, engine: Any
) -> None:
    from datetime import UTC, datetime

    async with make_sessionmaker(engine)() as session, session.begin():
        session.add(Playbook(fault="traffic_surge", action_type="scale", trust=0.95,
                             successes=9, failures=0, updated_at=datetime.now(UTC)))
    debate = ScriptedDebate(package(risk="low", human=False))
    async with workflow_app(debate, auto_execute_namespaces=["shop"]) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id), what="a decision")
        view = await wait_for(
            lambda: _status(client, decision["token"], "completed", "failed"), what="the end"
        )
    assert view["auto_execute"] is True
    assert [(a["approver"], a["via"]) for a in view["approvals"]] == [("policy", "policy")]
    assert len(view["executions"]) == 1


async def test_untrusted_playbook_waits_for_a_human(workflow_app: Any) -> None:
    debate = ScriptedDebate(package(risk="low", human=False))
    async with workflow_app(debate, auto_execute_namespaces=["shop"]) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        view = await _view(client, decision["token"])
    assert view["auto_execute"] is False
    assert any("trust" in r for r in view["package"]["policy"]["reasons"])
    assert view["executions"] == []


async def test_critical_action_waits_for_two_distinct_approvers(workflow_app: Any) -> None:
    debate = ScriptedDebate(package(risk="critical"))
    async with workflow_app(debate) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        token = decision["token"]
        url = f"/api/v1/decisions/{token}/approve"
        assert (await client.post(url, json={"approver": "alice"})).status_code == 200
        # the same identity naming someone else in the body is still the same identity
        again = await client.post(url, json={"approver": "bob", "comment": "twice"})
        assert again.status_code == 409 and "already" in again.json()["detail"]
        waiting = await _view(client, token)
        assert waiting["status"] == "ready" and waiting["executions"] == []
        bob = await client.as_user("bob")
        assert (await client.post(url, json={}, headers=bob)).status_code == 200
        view = await wait_for(lambda: _status(client, token, "completed", "failed"),
                              what="the end")
    assert view["requires_approvals"] == 2
    assert {a["approver"] for a in view["approvals"]} == {"alice", "bob"}
    assert len(view["executions"]) == 1


async def test_rejected_decision_never_executes(workflow_app: Any) -> None:
    async with workflow_app(ScriptedDebate()) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        token = decision["token"]
        response = await client.post(f"/api/v1/decisions/{token}/reject",
                                     json={"approver": "carol", "comment": "too risky"})
        assert response.status_code == 200
        await wait_for(lambda: _closed(client, incident_id), what="workflow closed")
        late = await client.post(f"/api/v1/decisions/{token}/approve", json={"approver": "dan"})
        view = await _view(client, token)
    assert late.status_code == 409
    assert view["status"] == "rejected"
    assert view["executions"] == []


async def test_expired_decision_never_executes_and_escalates(workflow_app: Any) -> None:
    async with workflow_app(ScriptedDebate(), approval_timeout_seconds=0.3) as client:
        incident_id = await post_alert(client)
        timeline = await wait_for(lambda: _closed(client, incident_id), what="workflow closed")
        decision = await decision_of(client, incident_id)
        assert decision is not None
        view = await _view(client, decision["token"])
    assert view["status"] == "expired"
    assert view["executions"] == []
    kinds = [e["kind"] for e in timeline]
    assert "decision.expired" in kinds and "decision.escalated" in kinds


async def test_hard_rule_refuses_an_approved_action_at_execution(workflow_app: Any) -> None:
    scale_to_zero = Action(type="scale", target="shop/deployment/checkout",
                           params={"replicas": 0})
    async with workflow_app(ScriptedDebate(package(scale_to_zero))) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        token = decision["token"]
        await client.post(f"/api/v1/decisions/{token}/approve", json={"approver": "alice"})
        timeline = await wait_for(lambda: _closed(client, incident_id), what="workflow closed")
        view = await _view(client, token)
    assert view["status"] == "failed"
    assert view["executions"] == []
    refused = next(e for e in timeline if e["kind"] == "execution.refused")
    assert "replicas" in refused["summary"] or "zero" in refused["summary"].lower()


async def test_debate_past_the_deadline_still_yields_a_ready_decision(
    workflow_app: Any,
) -> None:
    async with workflow_app(ScriptedDebate(delay=5.0), decision_deadline_seconds=0.3) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id), what="a decision")
        token = decision["token"]
        view = await wait_for(lambda: _status(client, token, "completed"), what="escalation")
    assert view["package"]["status"] == "timeout"
    assert view["package"]["action"]["type"] == "escalate"
    assert view["executions"] == []


class LosesTheDatabaseOnce(ScriptedDebate):
    """A debate whose database connection drops the first time, as in a failover."""

    async def __call__(self, session: Any, incident_id: str, **kwargs: Any) -> Any:
        if not self.calls:
            self.calls.append(incident_id)
            raise OperationalError("SELECT incidents", {}, ConnectionError("connection lost"))
        return await super().__call__(session, incident_id, **kwargs)


async def test_a_debate_that_lost_the_database_is_run_again_not_given_up(
    workflow_app: Any,
) -> None:
    debate = LosesTheDatabaseOnce()
    async with workflow_app(debate) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        view = await _view(client, decision["token"])
    # the step ran the debate again: its package, not a "the debate failed" fallback
    assert debate.calls == [incident_id, incident_id]
    assert view["package"]["action"]["type"] == "scale"
    assert view["package"]["outcome"] != "workflow_fallback"


class HealthyMetrics:
    """A sensor that reports the target healthy: the root cause cleared, the alert still on."""

    name = "metrics"

    async def collect(self, request: Any) -> Any:
        from warroom.sensors.models import EvidenceData, SensorResult, SensorRun, Series

        series = Series(metric={"__name__": "service:errors:ratio_rate1m", "namespace": "shop",
                                "service": "checkout"}, values=[(1.0, "0.001")])
        return SensorResult(run=SensorRun(sensor="metrics", status="ok", items=1),
                            data=EvidenceData(series=[series]))


async def test_completed_decision_for_a_still_firing_incident_starts_a_fresh_round(
    wf_settings: Any, engine: Any
) -> None:
    from warroom.api.testing import app_client

    debate = ScriptedDebate()
    settings = wf_settings.model_copy(update={"approval_timeout_seconds": 30.0})

    runtime = {"analyzer": debate, "sensor_factory": lambda s, sessions: [HealthyMetrics()]}
    async with app_client(settings, engine=engine, runtime=runtime) as client:
        incident_id = await post_alert(client)
        first = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                               what="a ready decision")
        await client.post(f"/api/v1/decisions/{first['token']}/approve",
                          json={"approver": "alice"})
        done = await wait_for(lambda: _status(client, first["token"], "completed", "failed"),
                              what="the first round to end")
        assert done["status"] == "completed"
        assert done["verifications"][0]["verdict"] == "degraded"
        await post_alert(client)  # the alert still fires
        second = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                what="a fresh decision")
    assert second["token"] != first["token"]
    assert [d["status"] for d in second["decisions"]] == ["completed", "ready"]
    assert debate.calls == [incident_id, incident_id]


async def test_incident_resolving_before_any_approval_closes_the_decision(
    workflow_app: Any,
) -> None:
    async with workflow_app(ScriptedDebate()) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        await post_alert(client, "resolved")
        timeline = await wait_for(lambda: _closed(client, incident_id), what="workflow closed")
        view = await _view(client, decision["token"])
        # it fires again and re-opens the incident: nobody has this new episode, so a new
        # round decides it (the expired decision must not leave it undecided)
        assert await post_alert(client) == incident_id
        again = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                               what="a decision for the new episode")
    assert view["status"] == "expired" and view["executions"] == []
    expired = next(e for e in timeline if e["kind"] == "decision.expired")
    assert "resolved" in expired["data"]["reason"]
    assert "decision.escalated" not in [e["kind"] for e in timeline]
    assert again["token"] != decision["token"]


async def test_incident_acknowledged_before_a_crash_gets_its_workflow_on_start(
    workflow_app: Any, engine: Any, wf_settings: Any
) -> None:
    # stored and acknowledged, but the process died before any listener heard of it
    async with make_sessionmaker(engine)() as session, session.begin():
        result = await ingest_alertmanager(
            session, AlertmanagerWebhook.model_validate(webhook()), settings=wf_settings
        )
    incident_id = result.incidents[0].id
    debate = ScriptedDebate()
    async with workflow_app(debate) as client:
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="the orphan's decision")
    assert decision["token"]
    assert debate.calls == [incident_id]


async def test_incident_resolving_while_the_debate_runs_closes_the_decision(
    workflow_app: Any,
) -> None:
    # the resolution arrives before the decision is ready, so no message can reach the
    # approval wait: the workflow must read the incident's state itself
    async with workflow_app(ScriptedDebate(delay=1.5)) as client:
        incident_id = await post_alert(client)
        await post_alert(client, "resolved")
        timeline = await wait_for(lambda: _closed(client, incident_id), what="workflow closed")
    expired = next(e for e in timeline if e["kind"] == "decision.expired")
    assert "resolved" in expired["data"]["reason"]
    assert "execution.call" not in [e["kind"] for e in timeline]


async def test_escalated_decision_closes_once_after_its_escalation(workflow_app: Any) -> None:
    # the escalation step writes the closing record in its own commit; the close step after
    # it must find that record, not write a second one
    async with workflow_app(ScriptedDebate(delay=5.0), decision_deadline_seconds=0.3) as client:
        incident_id = await post_alert(client)
        timeline = await wait_for(lambda: _closed(client, incident_id), what="workflow closed")
    kinds = [e["kind"] for e in timeline]
    assert kinds.count("workflow.closed") == 1
    tail = [k for k in kinds if k.startswith(("decision.", "workflow."))][-4:]
    assert tail == ["decision.ready", "decision.escalated", "decision.completed",
                    "workflow.closed"]
    closed = next(e for e in timeline if e["kind"] == "workflow.closed")
    assert closed["data"]["outcome"] == "escalated"
    assert closed["data"]["decision_status"] == "completed"
    # the debate past its deadline wrote nothing: its transaction rolled back
    assert "agent.turn" not in kinds
