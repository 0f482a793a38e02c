"""Traces: one incident's spans, webhook to verification, in one trace across the DBOS queue."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlpkit import OtlpCollector
from sqlalchemy.ext.asyncio import AsyncEngine
from wfkit import ScriptedDebate, decision_of, post_alert, wait_for

from warroom.api.testing import app_client
from warroom.config import Settings
from warroom.observe.tracing import configure_tracing, tracing_active


def by_name(finished: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in finished if s.name == name]


def trace_of(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


async def _closed(client: Any, incident_id: str) -> bool:
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]
    return any(e["kind"] == "workflow.closed" for e in timeline)


async def test_one_trace_from_webhook_to_verification(
    spans: InMemorySpanExporter, workflow_app: Any
) -> None:
    async with workflow_app(ScriptedDebate()) as client:
        incident_id = await post_alert(client)
        decision = await wait_for(lambda: decision_of(client, incident_id, "ready"),
                                  what="a ready decision")
        response = await client.post(f"/api/v1/decisions/{decision['token']}/approve",
                                     json={"approver": "alice"})
        assert response.status_code == 200, response.text
        await post_alert(client, "resolved")
        await wait_for(lambda: _closed(client, incident_id), what="the workflow closed")
    finished = spans.get_finished_spans()
    enqueue = by_name(finished, "warroom.workflow.enqueue")
    assert len(enqueue) == 1, [s.name for s in finished]
    assert enqueue[0].attributes is not None
    assert enqueue[0].attributes["incident_id"] == incident_id
    webhook = next(s for s in by_name(finished, "warroom.ingest.webhook")
                   if trace_of(s) == trace_of(enqueue[0]))
    # the enqueue is a child of the webhook that opened the incident
    assert enqueue[0].parent is not None and webhook.context is not None
    assert enqueue[0].parent.span_id == webhook.context.span_id
    incident_trace = {s.name for s in finished if trace_of(s) == trace_of(webhook)}
    # DBOS's workflow and step spans, run by the worker after the queue, continue that trace
    assert {"warroom.incident", "warroom.decide", "warroom.decision", "warroom.execute",
            "warroom.verify", "warroom.close"} <= incident_trace, incident_trace
    # the group commit is a root span of its own, linked to the webhooks it stored
    commits = by_name(finished, "warroom.ingest.commit")
    assert any(link.context.span_id == webhook.context.span_id
               for c in commits for link in c.links)


async def test_sensors_and_agents_are_spans_of_the_incident(
    spans: InMemorySpanExporter, wf_settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(wf_settings, engine=engine) as client:
        incident_id = await post_alert(client)
        await wait_for(lambda: _closed(client, incident_id), what="the rule debate's round")
    finished = spans.get_finished_spans()
    enqueue = next(s for s in by_name(finished, "warroom.workflow.enqueue"))
    names = [s.name for s in finished if trace_of(s) == trace_of(enqueue)]
    assert "warroom.sense" in names and "warroom.sensor" in names, names
    assert "warroom.debate" in names, names
    for role in ("diagnostician", "solver", "reviewer", "critic"):
        assert f"warroom.agent.{role}" in names, names
    debate = by_name(finished, "warroom.debate")[0]
    assert debate.attributes is not None
    assert debate.attributes["incident_id"] == incident_id
    assert debate.attributes["backend.diagnostician"] == "RuleDiagnostician"


def test_spans_are_exported_over_otlp_http_only_when_an_endpoint_is_set(
    otlp: OtlpCollector,
) -> None:
    assert configure_tracing(Settings(_env_file=None)) is False  # type: ignore[call-arg]
    assert not tracing_active()
    script = (
        "from opentelemetry import trace\n"
        "from warroom.config import get_settings\n"
        "from warroom.observe.tracing import configure_tracing, span\n"
        "assert configure_tracing(get_settings())\n"
        "with span('warroom.test', incident_id='i-1'):\n"
        "    pass\n"
        "trace.get_tracer_provider().shutdown()\n"
    )
    env = {**os.environ, "WARROOM_OTLP_TRACES_ENDPOINT": otlp.endpoint,
           "WARROOM_OTEL_SERVICE_NAME": "warroom-test",
           "WARROOM_OTLP_HEADERS": '{"authorization": "Basic dGVzdA=="}'}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert otlp.headers and otlp.headers[0]["authorization"] == "Basic dGVzdA=="
    assert otlp.headers[0]["content-type"] == "application/x-protobuf"
    [exported] = otlp.spans()
    assert exported.name == "warroom.test" and exported.service == "warroom-test"
    assert exported.attributes["incident_id"] == "i-1"
