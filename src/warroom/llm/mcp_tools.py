"""MCP servers listed in Settings as extra read-only tools for the investigating model.

pydantic-ai's own MCP toolset needs `fastmcp`, whose `cachetools>=5` conflicts with drain3's
pin, so the official `mcp` SDK's client is used and each allowed remote tool is wrapped as a
pydantic-ai tool. Only tools named in the server's allow-list are offered, and never one the
server itself marks as writing (`readOnlyHint: false` or `destructiveHint: true`). Sessions
open inside the model run, so connecting, listing and every call count against the turn's
deadline; every call counts against its step budget. Answers come back as the built-in
tools' `ToolResult`: sanitized line by line, capped, marked as untrusted data, recorded.
"""

from __future__ import annotations

import os
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from warroom.agents.llm.prompts import _line
from warroom.agents.llm.tools import ToolResult, result_of
from warroom.config import MCPServerConfig

if TYPE_CHECKING:
    from mcp import Client
    from pydantic_ai import Tool

CHUNK = 300  # characters of one result line the model sees
MAX_MCP_LINES = 80  # lines of one answer the model sees


def offered(server: MCPServerConfig, tool: Any) -> bool:
    """Tell whether a remote tool may be offered: allow-listed and not marked as writing."""
    hints = tool.annotations
    writes = hints is not None and (hints.read_only_hint is False or bool(hints.destructive_hint))
    return tool.name in server.tools and not writes


MAX_DEPTH = 64  # a tool's document nested deeper is cut there (a line says so)


def flatten(value: Any, path: str = "", depth: int = 0) -> list[str]:
    """Return one `path: value` line per leaf of a JSON document."""
    if depth > MAX_DEPTH and isinstance(value, dict | list):
        return [f"{path}: [nested deeper than {MAX_DEPTH} levels, not shown]"]
    if isinstance(value, dict):
        return [line for k, v in value.items()
                for line in flatten(v, f"{path}.{k}" if path else str(k), depth + 1)]
    if isinstance(value, list):
        return [line for i, v in enumerate(value)
                for line in flatten(v, f"{path}[{i}]", depth + 1)]
    return [f"{path}: {value}" if path else str(value)]


def lines_of(result: Any) -> list[str]:
    """Return a tool result as lines: a JSON document leaf by leaf, text line by line."""
    if result.structured_content is not None:
        raw = flatten(result.structured_content)
    else:
        raw = []
        for part in result.content:
            text = getattr(part, "text", None)
            if text is None:
                raw.append(f"[{getattr(part, 'type', 'content')} content not shown]")
                continue
            try:
                raw += flatten(orjson.loads(text))
            except orjson.JSONDecodeError:
                raw += str(text).splitlines()
    out: list[str] = []
    for line in raw:
        out += [line[i:i + CHUNK] for i in range(0, max(len(line), 1), CHUNK)]
    return [line for line in out if line.strip()]


def mcp_result(query: str, lines: list[str]) -> ToolResult:
    """Return an MCP answer's first `MAX_MCP_LINES` lines, sanitized, saying what was left."""
    if not lines:
        return result_of(query, [])
    shown = [_line(t, CHUNK) for t in lines[:MAX_MCP_LINES]]
    note = ToolResult.model_fields["note"].default
    if len(lines) > MAX_MCP_LINES:
        note += f"; {len(lines) - MAX_MCP_LINES} more lines not shown: ask more narrowly"
    return ToolResult(query=query, found=len(lines), lines=shown, note=note)


def _tool(server: MCPServerConfig, client: Client, remote: Any, timeout: float) -> Tool:
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai import Tool

    async def call(**arguments: Any) -> ToolResult:
        query = f"mcp {server.name}.{remote.name} {arguments}"
        try:
            with anyio.fail_after(timeout):
                result = await client.call_tool(remote.name, arguments)
        except Exception as exc:  # a failed call is an answer the model can read, not a crash
            return ToolResult(query=query, found=0, lines=[],
                              note=f"the call failed: {type(exc).__name__}: {exc}"[:300])
        if result.is_error:
            return ToolResult(query=query, found=0, lines=[],
                              note="the tool answered an error: "
                                   + " ".join(lines_of(result))[:300])
        return mcp_result(query, lines_of(result))

    schema = remote.input_schema or {"type": "object", "properties": {}}
    description = (remote.description or remote.name)[:500]
    return Tool.from_schema(call, name=f"{server.name}_{remote.name}",
                            description=f"(read-only, from MCP server {server.name}) "
                                        f"{description}", json_schema=schema)


def _target(server: MCPServerConfig) -> Any:
    if server.url:
        return server.url
    # lazy: cold import cost (python -X importtime): mcp ~1050 ms; kept off the module's import path
    from mcp.client.stdio import StdioServerParameters, get_default_environment

    return StdioServerParameters(command=server.command[0], args=server.command[1:],
                                 env={**get_default_environment(), **server.env},
                                 cwd=server.cwd or os.getcwd())


async def open_tools(stack: AsyncExitStack, servers: list[MCPServerConfig],
                     timeout: float) -> tuple[list[Tool], list[dict[str, Any]]]:
    """Connect to every server (closed with `stack`); return the offered tools and notes.

    A server that cannot be reached, or does not answer a request within `timeout` seconds,
    is left out, with a note saying
    why; the model still runs with the other tools.
    """
    # lazy: cold import cost (python -X importtime): mcp ~1050 ms; kept off the module's import path
    from mcp import Client

    tools: list[Tool] = []
    notes: list[dict[str, Any]] = []
    for server in servers:
        try:
            # no cancel scope around the enter: the client's own task group must stay open
            # after it; each request is bounded by `read_timeout_seconds`, the whole run by
            # the turn's deadline
            client = await stack.enter_async_context(
                Client(_target(server), read_timeout_seconds=timeout))
            listed = await client.list_tools()
        except Exception as exc:
            notes.append({"tool": f"mcp:{server.name}", "found": 0,
                          "error": f"not reachable: {type(exc).__name__}: {exc}"[:300]})
            continue
        remote = [t for t in listed.tools if offered(server, t)]
        refused = sorted(t.name for t in listed.tools if t.name in server.tools
                         and not offered(server, t))
        missing = sorted(set(server.tools) - {t.name for t in listed.tools})
        problems = ([f"marked as writing, not offered: {', '.join(refused)}"] * bool(refused)
                    + [f"not on the server: {', '.join(missing)}"] * bool(missing))
        if problems:
            notes.append({"tool": f"mcp:{server.name}", "found": len(remote),
                          "error": "; ".join(problems)})
        tools += [_tool(server, client, t, timeout) for t in remote]
    return tools, notes
