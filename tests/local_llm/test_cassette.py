"""Cassettes: a model's answers recorded through the real agent path, replayed without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, PromptedOutput
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from warroom.local_llm.cassette import Cassette, CassetteMiss, RecordingModel, replay_model


class Guess(BaseModel):
    service: str
    fault: str


def live_model(calls: list[str]) -> FunctionModel:
    """Stands in for the real server: answers differ per question, and every call is counted."""
    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = str(messages[-1].parts[-1].content)  # type: ignore[union-attr]
        calls.append(prompt)
        service = "checkout" if "checkout" in prompt else "cart"
        return ModelResponse(parts=[TextPart(json.dumps({"service": service,
                                                          "fault": "bad_deploy"}))])
    return FunctionModel(answer, model_name="live")


def agent() -> Agent[None, Guess]:
    return Agent(output_type=PromptedOutput(Guess), instructions="Name the broken service.")


async def test_recorded_answers_replay_without_the_model(tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"
    calls: list[str] = []
    recorder = RecordingModel(live_model(calls), Cassette(path))
    first = await agent().run("errors on checkout", model=recorder)
    second = await agent().run("errors on cart", model=recorder)
    assert (first.output.service, second.output.service) == ("checkout", "cart")
    assert len(calls) == 2 and len(Cassette(path)) == 2
    stored = json.loads(path.read_text())
    assert {e["prompt"] for e in stored["entries"].values()} == {"errors on checkout",
                                                                "errors on cart"}

    replay = replay_model(path)
    again = await agent().run("errors on cart", model=replay)
    assert again.output == second.output
    assert (await agent().run("errors on checkout", model=replay)).output == first.output
    assert len(calls) == 2  # the live model was not asked again


async def test_an_unrecorded_question_is_refused_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "cassette.json"
    await agent().run("errors on checkout", model=RecordingModel(live_model([]), Cassette(path)))
    with pytest.raises(CassetteMiss, match="no recorded answer"):
        await agent().run("errors on payments", model=replay_model(path))
    with pytest.raises(CassetteMiss):  # same prompt, other instructions: another request
        await Agent(output_type=PromptedOutput(Guess), instructions="Be brief.").run(
            "errors on checkout", model=replay_model(path))


def test_a_broken_cassette_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not a cassette file"):
        Cassette(path)
    with pytest.raises(FileNotFoundError, match="no cassette"):
        replay_model(tmp_path / "missing.json")
