"""MCP servers in Settings as extra read-only tools: warroom's own `warroom mcp` over stdio."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp.types import CallToolResult, TextContent, Tool, ToolAnnotations
from pydantic import BaseModel, ValidationError
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from mcp_server.test_server import PLANTED, analysed_incident
from warroom.agents.llm.tools import TOOLS, Investigation
from warroom.config import MCPServerConfig, Settings
from warroom.llm.mcp_tools import lines_of, offered
from warroom.llm.service import ModelRuntime
from warroom.safety.sanitize import FENCE_OPEN
from warroom.sensors.models import EvidenceSnapshot


class Found(BaseModel):
    summary: str


def server(**kwargs: Any) -> MCPServerConfig:
    return MCPServerConfig.model_validate({"name": "wr", "tools": ["a"], **kwargs})


def test_a_server_needs_one_transport_and_an_allow_list() -> None:
    with pytest.raises(ValidationError, match="either `command` .stdio. or `url`"):
        server()
    with pytest.raises(ValidationError, match="either"):
        server(command=["x"], url="http://127.0.0.1:1/mcp")
    with pytest.raises(ValidationError, match="tools"):
        MCPServerConfig(name="wr", url="http://127.0.0.1:1/mcp", tools=[])
    with pytest.raises(ValidationError, match="http"):
        server(url="ftp://host/mcp")


def test_only_allow_listed_tools_not_marked_as_writing_are_offered() -> None:
    config = server(url="http://127.0.0.1:1/mcp", tools=["read", "scale", "plain"])
    schema: dict[str, Any] = {"type": "object"}
    read = Tool(name="read", input_schema=schema,
                annotations=ToolAnnotations(read_only_hint=True))
    scale = Tool(name="scale", input_schema=schema,
                 annotations=ToolAnnotations(read_only_hint=False))
    plain = Tool(name="plain", input_schema=schema)
    other = Tool(name="other", input_schema=schema,
                 annotations=ToolAnnotations(read_only_hint=True))
    assert [t.name for t in (read, scale, plain, other) if offered(config, t)] == [
        "read", "plain"]


def test_long_lines_are_cut_and_json_is_read_leaf_by_leaf() -> None:
    result = CallToolResult(content=[TextContent(type="text", text="x" * 650 + "\nshort")])
    assert [len(line) for line in lines_of(result)] == [300, 300, 50, 5]
    doc = CallToolResult(content=[], structured_content={"a": {"b": [1, "two"]}, "c": None})
    assert lines_of(doc) == ["a.b[0]: 1", "a.b[1]: two", "c: None"]


def test_a_document_nested_past_the_stack_is_cut_not_a_crash() -> None:
    # a hostile server's answer: as deep as its JSON parser lets it be
    deep = CallToolResult(content=[TextContent(type="text", text="[" * 1000 + "1" + "]" * 1000)])
    (line,) = lines_of(deep)
    assert line.endswith("[nested deeper than 64 levels, not shown]")


@pytest.mark.integration
async def test_the_model_calls_warroom_mcp_over_stdio(tmp_path: Path,
                                                      fixtures_dir: Path) -> None:
    """A real `warroom mcp` process; the scripted model sees only allow-listed tools."""
    from warroom.store.db import make_engine, make_sessionmaker
    from warroom.store.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'warroom.sqlite'}"
    base = Settings(home=tmp_path, database_url=url, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(url)
    try:
        await upgrade(engine)
        incident_id = await analysed_incident(make_sessionmaker(engine), base, fixtures_dir)
    finally:
        await engine.dispose()
    settings = Settings(_env_file=None, llm_cache_ttl_seconds=0,  # type: ignore[call-arg]
                        agent_deadline_seconds=120, sensor_timeout_seconds=60,
                        llm_mcp_servers=[{
                            "name": "warroom", "cwd": str(tmp_path),
                            "command": [sys.executable, "-c",
                                        "from warroom.cli import app; app()", "mcp"],
                            "env": {"WARROOM_DATABASE_URL": url, "WARROOM_HOME": str(tmp_path),
                                    "HOME": str(tmp_path),
                                    "PATH": os.environ.get("PATH", "")},
                            "tools": ["incident_evidence", "not_a_tool"]}])
    offered_names: list[list[str]] = []
    returned: list[Any] = []

    def investigate(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        offered_names.append(sorted(t.name for t in info.function_tools))
        results = [p.content for m in messages if isinstance(m, ModelRequest)
                   for p in m.parts if isinstance(p, ToolReturnPart)]
        if not results:
            return ModelResponse(parts=[ToolCallPart("warroom_incident_evidence",
                                                     {"incident_id": incident_id})])
        returned.extend(results)
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name,
                                                 {"summary": "read it"})])

    runtime = ModelRuntime(settings, model=FunctionModel(investigate))
    evidence = EvidenceSnapshot(now=datetime(2026, 1, 1, tzinfo=UTC))
    output, turn = await runtime.ask(
        role="diagnostician", mode="llm", instructions="i", prompt="p", output_type=Found,
        evidence_digest="d", tools=TOOLS, deps=Investigation(evidence=evidence))
    assert turn.status == "accepted", turn.reason
    assert output == Found(summary="read it"), turn.tools
    # the built-in tools plus the one allow-listed tool the server has; nothing else
    assert offered_names[0] == sorted(["list_events", "past_incidents", "query_series",
                                       "read_logs", "warroom_incident_evidence"]), turn.tools
    result = returned[0]
    assert result.found > 0 and result.query.startswith("mcp warroom.incident_evidence")
    assert any(PLANTED in line and FENCE_OPEN in line for line in result.lines), result.lines
    assert not any("sk-abcdefghijklmnopqrstuvwx" in line for line in result.lines)
    # the audit trail: the missing tool is named, the call recorded with what it found
    assert turn.tools[0] == {"tool": "mcp:warroom", "found": 1,
                             "error": "not on the server: not_a_tool"}
    assert turn.tools[1]["tool"] == "warroom_incident_evidence"
    assert turn.tools[1]["found"] == result.found
