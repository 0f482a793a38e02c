"""The investigation tools ask the live sensors (the sandbox's API server and Prometheus, over
real HTTP) for the scope the model names; in replay, or when a sensor fails, the snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from warroom.agents.llm.tools import TOOLS, Investigation, LiveSensors
from warroom.config import Settings
from warroom.kube.client import KubeApi
from warroom.llm.service import ModelRuntime
from warroom.sandbox.runtime import SandboxRuntime
from warroom.sandbox.sim import Sandbox
from warroom.sensors.kubernetes import kubernetes_sensors
from warroom.sensors.models import EvidenceSnapshot, LogStream, SensorRequest, SensorResult
from warroom.sensors.ports import Sensor
from warroom.sensors.prometheus import PrometheusSensor


class Done(BaseModel):
    summary: str


class Broken:
    name = "logs"

    async def collect(self, request: SensorRequest) -> SensorResult:
        raise RuntimeError("log store down")


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[SandboxRuntime]:
    async with SandboxRuntime(Settings(home=tmp_path), webhook_url="", sandbox=Sandbox(seed=9),
                              clock=False) as running:
        running.inject("memory_limit_too_low")
        running.sandbox.advance(120)
        yield running


async def investigate(deps: Investigation, calls: list[tuple[str, dict[str, Any]]]
                      ) -> tuple[dict[str, Any], Any]:
    """Have a scripted model make `calls` at once, then answer; return what each tool said."""
    said: dict[str, Any] = {}

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        returns = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts
                   if isinstance(p, ToolReturnPart)]
        if not returns:
            return ModelResponse(parts=[ToolCallPart(name, args) for name, args in calls])
        said.update({p.tool_name: p.content for p in returns})
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, {"summary": "ok"})])

    settings = Settings(_env_file=None, llm_cache_ttl_seconds=0,  # type: ignore[call-arg]
                        agent_deadline_seconds=60)
    _, turn = await ModelRuntime(settings, model=FunctionModel(model)).ask(
        role="diagnostician", mode="llm", instructions="i", prompt="p", output_type=Done,
        evidence_digest="d", tools=TOOLS, deps=deps)
    assert turn.status == "accepted", turn.reason
    return said, turn


@pytest.mark.slow  # a sandbox cluster over HTTP: ~10 s on a loaded machine
async def test_live_tools_read_the_cluster_beyond_the_snapshot(sandbox: SandboxRuntime) -> None:
    api = KubeApi(str(sandbox.kubeconfig_path))
    try:
        sensors: list[Sensor] = [*kubernetes_sensors(str(sandbox.kubeconfig_path)),
                                 PrometheusSensor(sandbox.url)]
        # an empty snapshot: whatever the tools find, they found live
        deps = Investigation(evidence=EvidenceSnapshot(now=sandbox.sandbox.now),
                             live=LiveSensors(sensors, timeout=30), namespace="shop")
        said, turn = await investigate(deps, [
            ("read_logs", {"pod": "checkout", "contains": "heap"}),
            ("list_events", {"name": "checkout"}),
            ("query_series", {"metric": "", "service": "checkout"})])
    finally:
        await api.close()
    logs, events, series = said["read_logs"], said["list_events"], said["query_series"]
    assert logs.query.endswith("(live)") and logs.found > 0
    assert all("heap" in line and line.startswith("shop/checkout-") for line in logs.lines)
    assert events.query.endswith("(live)") and any("BackOff" in line for line in events.lines)
    assert series.query.endswith("(live)") and series.found > 0
    assert {t["tool"] for t in turn.tools} == {"read_logs", "list_events", "query_series"}
    assert all(t["query"].endswith("(live)") for t in turn.tools), "the audit says where"


async def test_replay_and_a_failed_sensor_read_the_snapshot() -> None:
    from datetime import UTC, datetime

    snapshot = EvidenceSnapshot(now=datetime(2026, 1, 1, tzinfo=UTC), logs=[LogStream(
        namespace="shop", pod="checkout-1", container="app", lines=["recorded line"])])
    replayed, _ = await investigate(Investigation(evidence=snapshot),
                                    [("read_logs", {"pod": "checkout"})])
    assert replayed["read_logs"].query.endswith("(snapshot)")
    assert replayed["read_logs"].lines == ["shop/checkout-1/app: recorded line"]
    down = Investigation(evidence=snapshot, live=LiveSensors([Broken()], timeout=5),
                         namespace="shop")
    fallen, _ = await investigate(down, [("read_logs", {"pod": "checkout"})])
    result = fallen["read_logs"]
    assert "snapshot (live logs failed: logs error: RuntimeError: log store down)" in result.query
    assert result.lines == ["shop/checkout-1/app: recorded line"]
