from __future__ import annotations

import json

from pydantic import BaseModel

from warroom.config import Settings
from warroom.llm.models import CachedAnswer
from warroom.llm.service import ModelRuntime


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
