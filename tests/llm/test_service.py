from __future__ import annotations

import asyncio
import json
import time

import pytest
from pydantic import BaseModel

from warroom.agents import recording
from warroom.config import Settings
from warroom.llm.models import CachedAnswer
from warroom.llm.service import ModelRuntime

from .conftest import FakeOpenAI


class Word(BaseModel):
    summary: str


def settings(**kwargs: object) -> Settings:
    return Settings(_env_file=None, **kwargs)  # type: ignore[arg-type]


async def ask(runtime: ModelRuntime, role: str = "diagnostician") -> tuple[object, object]:
    return await runtime.ask(role=role, mode="hybrid", instructions="i", prompt="role: summary",
                             output_type=Word, evidence_digest="d")


async def test_the_chain_falls_back_to_the_next_provider() -> None:
    runtime = ModelRuntime(settings(llm_providers=json.loads(
        '[{"name": "down", "kind": "test", "model": "error"},'
        ' {"name": "up", "kind": "test", "model": "bogus"}]')))
    output, turn = await ask(runtime)
    assert isinstance(output, Word) and "no-such-service" in output.summary
    assert turn.status == "accepted" and turn.model == "test:bogus"  # type: ignore[attr-defined]
    assert turn.chain == ["down", "up"]  # type: ignore[attr-defined]
    assert runtime.pending and runtime.pending[0].answer.output == output.model_dump()


async def test_routes_give_each_role_its_own_chain() -> None:
    runtime = ModelRuntime(settings(
        llm_model="test:bogus", llm_providers=[{"name": "small", "kind": "test",
                                                 "model": "garbage"}],
        llm_routes={"summary": ["small"]}))
    assert [p.name for p in runtime.chain("summary")] == ["small"]
    assert [p.name for p in runtime.chain("critic")] == ["default", "small"]
    _, turn = await ask(runtime, "summary")
    assert turn.status == "failed" and "kubectl delete" in str(turn.said)  # type: ignore[attr-defined]


async def test_a_cached_answer_is_reused_and_marked() -> None:
    calls: list[str] = []

    async def cache_get(key: str) -> CachedAnswer | None:
        calls.append(key)
        return CachedAnswer(model="test:bogus", output={"summary": "from cache"})

    runtime = ModelRuntime(settings(llm_model="test:hang"), cache_get=cache_get)
    output, turn = await ask(runtime)
    assert isinstance(output, Word) and output.summary == "from cache"
    assert turn.cached and turn.status == "accepted" and turn.input_tokens == 0  # type: ignore[attr-defined]
    assert len(calls) == 1 and len(calls[0]) == 64 and not runtime.pending


async def test_no_provider_means_no_question() -> None:
    output, turn = await ask(ModelRuntime(settings()))
    assert output is None and turn.status == "skipped"  # type: ignore[attr-defined]
    assert "no language-model provider" in turn.reason  # type: ignore[attr-defined]


async def test_an_openai_compatible_server_answers_structured_with_usage_and_cost(
        fake_openai: str, allow_loopback: None) -> None:
    FakeOpenAI.tool_args = {"summary": "checkout fails after its deploy"}
    runtime = ModelRuntime(settings(llm_providers=[{
        "name": "local", "model": "fake-model-1", "base_url": fake_openai,
        "input_cost_per_mtok": 1000.0, "output_cost_per_mtok": 2000.0}]))
    output, turn = await ask(runtime)
    assert isinstance(output, Word) and output.summary == "checkout fails after its deploy"
    assert turn.status == "accepted" and turn.model == "fake-model-1"  # type: ignore[attr-defined]
    assert (turn.input_tokens, turn.output_tokens) == (11, 1)  # type: ignore[attr-defined]
    assert turn.cost_usd == round((11 * 1000 + 1 * 2000) / 1e6, 6)  # type: ignore[attr-defined]
    sent = FakeOpenAI.requests[-1]["body"]
    assert sent["tools"][0]["function"]["parameters"]["properties"]["summary"]
    # a server that is not OpenAI's reads max_tokens (llama.cpp ignores max_completion_tokens)
    assert sent["max_tokens"] == 1024 and "max_completion_tokens" not in sent


async def test_the_shorthand_sends_max_tokens_to_a_local_server(
        fake_openai: str, allow_loopback: None) -> None:
    FakeOpenAI.tool_args = {"summary": "ok"}
    output, _ = await ask(ModelRuntime(settings(llm_base_url=fake_openai,
                                                llm_model="fake-model-1")))
    assert isinstance(output, Word)
    sent = FakeOpenAI.requests[-1]["body"]
    assert sent["max_tokens"] == 1024 and "max_completion_tokens" not in sent


async def test_the_shorthand_can_name_a_llama_cpp_server(
        fake_openai: str, allow_loopback: None) -> None:
    FakeOpenAI.tool_args = {"summary": "ok"}
    output, _ = await ask(ModelRuntime(settings(
        llm_base_url=fake_openai, llm_model="gemma3", llm_kind="llama_cpp",
        llm_output_mode="prompted")))
    assert isinstance(output, Word)
    sent = FakeOpenAI.requests[-1]["body"]
    assert sent["response_format"]["type"] == "json_object" and not sent.get("tools")


def test_only_openai_itself_gets_max_completion_tokens() -> None:
    from warroom.llm.providers import is_openai

    assert is_openai("") and is_openai("https://api.openai.com/v1")
    assert is_openai("https://team.openai.azure.com/openai/v1")
    assert not is_openai("http://127.0.0.1:11434/v1")
    assert not is_openai("http://vllm.internal:8000/v1")


async def test_llama_cpp_gets_what_its_server_understands(
        fake_openai: str, allow_loopback: None) -> None:
    FakeOpenAI.tool_args = {"summary": "ok"}
    runtime = ModelRuntime(settings(llm_providers=[{
        "name": "lc", "kind": "llama_cpp", "model": "gemma3", "base_url": fake_openai}]))
    output, _ = await ask(runtime)
    assert isinstance(output, Word)
    sent = FakeOpenAI.requests[-1]["body"]
    assert sent["max_tokens"] == 1024 and "max_completion_tokens" not in sent
    assert sent["response_format"]["type"] == "json_object" and not sent.get("tools")
    # the answer's own schema, which the server compiles into a grammar
    assert sent["response_format"]["schema"]["properties"]["summary"]["type"] == "string"
    assert "summary" in json.dumps(sent["messages"]), "the schema is in the prompt"


async def test_a_wait_cut_by_the_agents_deadline_trips_the_chain_for_the_debate() -> None:
    # the agent's deadline cancels the wait before the model's own budget fires (a busy event
    # loop fires timers late): the later agents of the debate must not wait on it again
    runtime = ModelRuntime(settings(llm_model="test:hang", agent_deadline_seconds=30.0))
    scope = recording.DebateScope(deadline_at=time.monotonic() + 60)
    token = recording.DEBATE.set(scope)
    try:
        waiting = asyncio.create_task(ask(runtime))
        await asyncio.sleep(0.2)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        _, turn = await ask(runtime, "solver")
    finally:
        recording.DEBATE.reset(token)
    assert turn.status == "skipped"  # type: ignore[attr-defined]
    assert "agent's deadline" in turn.reason  # type: ignore[attr-defined]
