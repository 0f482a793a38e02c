"""Across processes: the API enqueues, a separate `warroom worker` runs the incident. The
worker's spans continue the API's trace, and the worker serves its own metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otlpkit import OtlpCollector
from prometheus_client.parser import text_string_to_metric_families
from wfkit import post_alert, wait_for

from warroom.api.testing import app_client
from warroom.bench.processes import free_port
from warroom.config import Settings

pytestmark = pytest.mark.integration

WARROOM = str(Path(sys.executable).parent / "warroom")


@pytest.fixture
def split_settings(tmp_path: Path) -> Settings:
    """An API without its embedded worker, on a SQLite file a worker process can open too."""
    return Settings(  # type: ignore[call-arg]
        home=tmp_path / "home", database_url=f"sqlite+aiosqlite:///{tmp_path / 'w.sqlite'}",
        _env_file=None, workflow_poll_seconds=0.02, verify_warmup_seconds=0.05,
        embedded_worker=False,
    )


@pytest.fixture
def worker_process(
    split_settings: Settings, otlp: OtlpCollector, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`warroom worker` with tracing to the test's OTLP receiver and a metrics port."""
    port = free_port()
    env = {
        **os.environ,
        "WARROOM_HOME": str(split_settings.home),
        "WARROOM_DATABASE_URL": split_settings.effective_database_url,
        "WARROOM_WORKFLOW_POLL_SECONDS": "0.02",
        "WARROOM_OTLP_TRACES_ENDPOINT": otlp.endpoint,
        "WARROOM_OTEL_SERVICE_NAME": "warroom-worker",
        "WARROOM_LOG_FORMAT": "json",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([WARROOM, "worker", "--metrics-port", str(port)], env=env,
                                stdout=out, stderr=out, cwd=tmp_path)
    try:
        yield proc, port, log
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _ready(log: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while b"warroom worker ready" not in log.read_bytes():
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "worker did not start"
        time.sleep(0.05)


async def _closed(client: httpx.AsyncClient, incident_id: str) -> bool:
    timeline = (await client.get(f"/api/v1/incidents/{incident_id}")).json()["timeline"]
    return any(e["kind"] == "workflow.closed" for e in timeline)


async def test_the_worker_continues_the_api_trace_and_serves_its_metrics(
    split_settings: Settings, spans: InMemorySpanExporter, otlp: OtlpCollector,
    worker_process: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    proc, port, log = worker_process
    async with app_client(split_settings) as client:
        _ready(log, proc)
        incident_id = await post_alert(client)
        await wait_for(lambda: _closed(client, incident_id), timeout=60,
                       what="the worker to close the incident's round")
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    proc.terminate()  # a clean stop flushes the worker's batched spans
    proc.wait(15)

    found: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[s.name + str(sorted(s.labels.items()))] = s.value
    decided = "warroom_workflow_step_seconds_count" + str(
        sorted({"step": "warroom.decide", "result": "ok"}.items()))
    assert found.get(decided) == 1, text
    assert not any(k.startswith("warroom_incidents_open") for k in found)  # the API's gauges

    enqueue = next(s for s in spans.get_finished_spans()
                   if s.name == "warroom.workflow.enqueue")
    assert enqueue.context is not None
    api_trace = format(enqueue.context.trace_id, "032x")
    worker_spans = [s for s in otlp.spans() if s.trace_id == api_trace]
    names = {s.name for s in worker_spans}
    assert {"warroom.incident", "warroom.decide", "warroom.sense", "warroom.debate",
            "warroom.agent.diagnostician", "warroom.close"} <= names, (names, log.read_text())
    assert {s.service for s in worker_spans} == {"warroom-worker"}
    workflow = next(s for s in worker_spans if s.name == "warroom.incident")
    assert workflow.parent_span_id == format(enqueue.context.span_id, "016x")
    # the worker's log lines of that work carry the incident and the trace
    lines = [x for x in log.read_text().splitlines() if "workflow.debated" in x]
    assert lines and incident_id in lines[0] and api_trace in lines[0], log.read_text()[-3000:]
