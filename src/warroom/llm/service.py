"""Ask a provider chain one structured question, inside the turn's deadline, through the cache.

`ModelRuntime.ask` never raises: it returns the typed answer, or none, with a `ModelTurn` that
says what happened (which provider answered, tokens, cost, cache hit; or why it failed, timed
out or was skipped). A chain that hangs or fails is not asked again in the same debate.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from warroom.agents import recording
from warroom.agents.models import ModelTurn
from warroom.config import LLMProvider, Settings
from warroom.llm.models import CachedAnswer, PendingCache
from warroom.llm.providers import ProviderError, build_chain, close_model, output_mode, route
from warroom.llm.tracing import configure_tracing
from warroom.sensors.service import bounded

if TYPE_CHECKING:
    from pydantic_ai import Agent
    from pydantic_ai.models import Model

    from warroom.agents.llm.tools import LiveSensors

T = TypeVar("T", bound=BaseModel)
Mode = Literal["llm", "hybrid", "summary"]
MIN_BUDGET = 0.05  # seconds; less than this is not worth a request
SAID_CHARS = 4000  # how much of what a model said the audit trail keeps

CacheGet = Callable[[str], Awaitable[CachedAnswer | None]]
_AGENTS: dict[tuple[type[BaseModel], str, str, tuple[Any, ...]], Agent[Any, Any]] = {}


def tools_of(messages: list[Any]) -> list[dict[str, Any]]:
    """Return the investigation tool calls of a run, with what each found."""
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart

    calls: dict[str, dict[str, Any]] = {}
    for message in messages:
        if isinstance(message, ModelResponse):
            for part in message.parts:
                if isinstance(part, ToolCallPart) and not part.tool_name.startswith("final_"):
                    calls[part.tool_call_id] = {"tool": part.tool_name, "args": part.args}
        elif isinstance(message, ModelRequest):
            for rpart in message.parts:
                if isinstance(rpart, ToolReturnPart) and rpart.tool_call_id in calls:
                    content = rpart.content
                    calls[rpart.tool_call_id].update(
                        query=getattr(content, "query", ""), found=getattr(content, "found", 0))
    return list(calls.values())


def said_of(messages: list[Any]) -> Any:
    """Return what the model answered in a run's messages, capped for the audit trail."""
    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
    # import path
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart

    parts: list[Any] = []
    for message in messages:
        if isinstance(message, ModelResponse):
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    parts.append({"tool": part.tool_name, "args": part.args})
                elif isinstance(part, TextPart):
                    parts.append(part.content)
    text = orjson.dumps(parts, default=str).decode()
    if len(text) > SAID_CHARS:
        return text[:SAID_CHARS] + f"… [truncated {len(text) - SAID_CHARS} chars]"
    return parts


class ModelRuntime:
    """The provider chains of one process, with the response cache of one analysis."""

    def __init__(self, settings: Settings, *, model: Model | None = None,
                 cache_get: CacheGet | None = None) -> None:
        self.settings = settings

        # model runs join the process's traces: the one OTLP exporter, when configured
        configure_tracing(settings)
        self._override = model  # tests and benches: one model for every role
        # the analysis's sensors, asked again by the investigation tools (None: replay, where
        # the tools read the snapshot)
        self.live: LiveSensors | None = None
        self._cache_get = cache_get
        self.pending: list[PendingCache] = []
        self._models: dict[str, Model] = {}
        self._rendered: tuple[int, str, str] | None = None

    @property
    def cache(self) -> CacheGet | None:
        """Return the response cache this runtime reads (the analysis stores into it)."""
        return self._cache_get

    def chain(self, role: str) -> list[LLMProvider]:
        """Return the providers this role asks, in order."""
        return route(self.settings.llm_chain_providers, self.settings.llm_routes, role)

    def _model(self, role: str, providers: list[LLMProvider]) -> Model:
        if self._override is not None:
            return self._override
        if role not in self._models:
            # lazy: cold import cost (python -X importtime): warroom.local_llm.cassette ~1286 ms
            # (pulls httpx, opentelemetry, pydantic_ai, rich); kept off the module's import path
            from warroom.local_llm.cassette import with_cassette

            # a cassette records the chain's answers, or answers in its place (replay)
            self._models[role] = with_cassette(build_chain(providers), self.settings)
        return self._models[role]

    async def aclose(self) -> None:
        """Close the provider clients this runtime built (once its analysis is over)."""
        models, self._models = list(self._models.values()), {}
        for model in models:
            await close_model(model)

    def rendered(self, key: int, render: Callable[[], str]) -> tuple[str, str]:
        """Return text rendered once per analysis (the evidence) and its sha256."""
        if self._rendered is None or self._rendered[0] != key:
            text = render()
            self._rendered = (key, text, hashlib.sha256(text.encode()).hexdigest())
        return self._rendered[1], self._rendered[2]

    @staticmethod
    def _agent(output_type: type[T], instructions: str, output_mode: str,
               tools: tuple[Any, ...] = ()) -> Agent[Any, Any]:
        # agents hold no run state: built once per process (building one costs ~25 ms)
        key = (output_type, instructions, output_mode, tools)
        if key not in _AGENTS:
            # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the
            # module's import path
            from pydantic_ai import Agent, NativeOutput, PromptedOutput

            spec: Any = output_type
            if output_mode == "prompted":
                spec = PromptedOutput(output_type)
            elif output_mode == "native":
                spec = NativeOutput(output_type)
            # one output retry: a malformed answer gets one chance to be fixed, then the rule
            # answer stands
            _AGENTS[key] = Agent(output_type=spec, instructions=instructions, retries=1,
                                 name=f"warroom-{output_type.__name__}", tools=tools,
                                 deps_type=object)
        return _AGENTS[key]

    async def ask(self, *, role: str, mode: Mode, instructions: str, prompt: str,
                  output_type: type[T], evidence_digest: str, tools: tuple[Any, ...] = (),
                  deps: Any = None) -> tuple[T | None, ModelTurn]:
        """Ask the role's chain; return its typed answer (or none) and what happened.

        `tools` are read-only functions the model may call (reading `deps`), at most
        `llm_tool_steps` times.
        """
        started = time.perf_counter()
        try:
            providers = self.chain(role)
        except ProviderError as exc:
            return None, ModelTurn(mode=mode, status="skipped", reason=str(exc))
        names = [p.name for p in providers] or (["override"] if self._override else [])
        turn = ModelTurn(mode=mode, status="skipped", chain=names)
        if not names:
            turn.reason = "no language-model provider is configured"
            return None, turn
        chain_key = ",".join(f"{p.name}={p.model}" for p in providers) or "override"
        why = recording.tripped(chain_key)
        if why is not None:
            turn.reason = f"not asked: the chain failed earlier in this debate ({why})"
            return None, turn
        reserve = self.settings.llm_reserve_seconds
        # outside a debate (a summary, a check) the agent deadline still bounds the question
        budget = min(recording.remaining(reserve), self.settings.agent_deadline_seconds - reserve)
        if budget < MIN_BUDGET:
            turn.reason = "not asked: no time left before the deadline"
            return None, turn
        key = hashlib.sha256(orjson.dumps(
            [chain_key, output_type.__name__, instructions, prompt, evidence_digest])).hexdigest()
        cached = await self._cached(key, output_type)
        if cached is not None:
            output, entry = cached
            turn = turn.model_copy(update={
                "status": "accepted", "model": entry.model, "cached": True,
                "said": entry.output, "latency_ms": _ms(started)})
            return output, turn
        if self.settings.llm_tool_steps <= 0:
            tools = ()
        return await self._run(role, mode, providers, instructions, prompt, output_type,
                               budget, key, chain_key, turn, started, tools, deps)

    async def _cached(self, key: str,
                      output_type: type[T]) -> tuple[T, CachedAnswer] | None:
        if self._cache_get is None or self.settings.llm_cache_ttl_seconds <= 0:
            return None
        try:
            entry = await self._cache_get(key)
            if entry is None:
                return None
            return output_type.model_validate(entry.output), entry
        except (ValidationError, Exception):  # a stale or unreadable entry is a miss
            return None

    async def _run(self, role: str, mode: Mode, providers: list[LLMProvider],
                   instructions: str, prompt: str, output_type: type[T], budget: float,
                   key: str, chain_key: str, turn: ModelTurn, started: float,
                   tools: tuple[Any, ...], deps: Any) -> tuple[T | None, ModelTurn]:
        # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms; kept off the module's
        # import path
        from pydantic_ai import capture_run_messages
        from pydantic_ai.exceptions import UnexpectedModelBehavior, UsageLimitExceeded
        from pydantic_ai.usage import UsageLimits

        captured: list[list[Any]] = []
        try:
            model = self._model(role, providers)
            mode_of = output_mode(providers[0]) if providers else "tool"
            agent = self._agent(output_type, instructions, mode_of, tools)
        except Exception as exc:  # a provider that cannot be built: the rule answer stands
            return None, turn.model_copy(update={
                "status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:500]})

        notes: list[dict[str, Any]] = []

        async def run() -> Any:
            async with AsyncExitStack() as stack:
                toolsets = []
                if tools and self.settings.llm_mcp_servers:
                    # MCP sessions open inside the run: connecting counts against the deadline
                    # lazy: cold import cost (python -X importtime): pydantic_ai ~1480 ms,
                    # warroom.llm.mcp_tools ~3681 ms (pulls httpx, opentelemetry, pydantic_ai,
                    # rich); kept off the module's import path
                    from pydantic_ai.toolsets import FunctionToolset

                    from warroom.llm.mcp_tools import open_tools

                    remote, found = await open_tools(stack, self.settings.llm_mcp_servers,
                                                     self.settings.sensor_timeout_seconds)
                    notes.extend(found)
                    toolsets.append(FunctionToolset(remote))
                with capture_run_messages() as messages:
                    captured.append(messages)
                    # each tool step is a request; one more answers, one more may fix it
                    steps = self.settings.llm_tool_steps if tools else 0
                    limits = UsageLimits(request_limit=steps + 2, tool_calls_limit=steps)
                    return await agent.run(prompt, model=model, deps=deps, usage_limits=limits,
                                           toolsets=toolsets, model_settings={
                                               "max_tokens": self.settings.llm_max_output_tokens})

        try:
            result = await bounded(run(), budget)
        except asyncio.CancelledError:
            # the agent's own deadline cut the wait first (a busy event loop fires the budget's
            # timer late): the provider did not answer in time all the same
            recording.trip(chain_key, "no answer before the agent's deadline")
            raise
        except TimeoutError:
            recording.trip(chain_key, f"no answer within {budget:.2f}s")
            return None, turn.model_copy(update={
                "status": "timeout", "reason": f"no answer within {budget:.2f}s",
                "said": said_of(captured[0]) if captured else None,
                "tools": notes + (tools_of(captured[0]) if captured else []),
                "latency_ms": _ms(started)})
        except (UnexpectedModelBehavior, UsageLimitExceeded) as exc:  # answered, unusably
            why = "step budget spent" if isinstance(exc, UsageLimitExceeded) else \
                "unusable answer"
            return None, turn.model_copy(update={
                "status": "failed", "reason": f"{why}: {exc}"[:500],
                "said": said_of(captured[0]) if captured else None,
                "tools": notes + (tools_of(captured[0]) if captured else []),
                "latency_ms": _ms(started)})
        except Exception as exc:  # the provider itself failed: do not ask it again now
            why = f"{type(exc).__name__}: {exc}"[:500]
            recording.trip(chain_key, why)
            return None, turn.model_copy(update={
                "status": "failed", "reason": why,
                "said": said_of(captured[0]) if captured else None,
                "latency_ms": _ms(started)})
        usage = result.usage
        answered = str(result.response.model_name or "")
        output = result.output
        data = output.model_dump(mode="json")
        cost = _cost(providers, answered, usage.input_tokens, usage.output_tokens)
        self.pending.append(PendingCache(key=key, answer=CachedAnswer(
            model=answered, output=data, input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens)))
        return output, turn.model_copy(update={
            "status": "accepted", "model": answered, "said": data,
            "tools": notes + tools_of(result.all_messages()),
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cost_usd": cost, "latency_ms": _ms(started)})


def _cost(providers: list[LLMProvider], model: str, input_tokens: int,
          output_tokens: int) -> float:
    match = next((p for p in providers if p.model == model or model.endswith(p.model)),
                 providers[0] if providers else None)
    if match is None:
        return 0.0
    return round((input_tokens * match.input_cost_per_mtok
                  + output_tokens * match.output_cost_per_mtok) / 1e6, 6)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
