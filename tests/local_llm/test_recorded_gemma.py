"""A real Gemma 3 270M debate, recorded from the local llama.cpp server, replayed without it.

Recorded with `WARROOM_LLM_CASSETTE_MODE=record` and the settings below against
`warroom local-llm serve` (every agent on the model). If the prompts change, the replay fails
with "no recorded answer": record the cassette again the same way.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from warroom.cli import app
from warroom.config import get_settings

CASSETTE = Path(__file__).parent / "cassettes" / "gemma3-270m-opensre-eks-000.json"
SETTINGS = {
    "WARROOM_AGENT_BACKEND": "llm", "WARROOM_LLM_CASSETTE_MODE": "replay",
    "WARROOM_LLM_PROVIDERS": json.dumps([{"name": "local", "kind": "llama_cpp",
                                          "model": "gemma3-270m",
                                          "base_url": "http://127.0.0.1:9/v1"}]),
    "WARROOM_AGENT_DEADLINE_SECONDS": "240", "WARROOM_DEBATE_DEADLINE_SECONDS": "900",
    "WARROOM_LLM_EVIDENCE_CHARS": "2000", "WARROOM_LLM_MAX_OUTPUT_TOKENS": "200",
    "WARROOM_LLM_TOOL_STEPS": "0", "WARROOM_LLM_CACHE_TTL_SECONDS": "0",
}


@pytest.fixture(autouse=True)
def replaying(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in SETTINGS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WARROOM_LLM_CASSETTE", str(CASSETTE))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_small_models_answers_replay_and_its_unsafe_ideas_are_rejected(
        scenarios_dir: Path, tmp_path: Path) -> None:
    shutil.copy(scenarios_dir / "opensre-eks-000.json", tmp_path)
    result = CliRunner().invoke(app, ["replay", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    models = {a["role"]: a["model"] for a in line["agents"] if a.get("model")}
    assert {r: m["status"] for r, m in models.items()} == {
        "diagnostician": "accepted", "solver": "rejected", "reviewer": "accepted",
        "critic": "rejected"}, [m.get("reason") for m in models.values()]
    # the model proposed draining a node for a healthy service: refused, the rule answer stands
    assert "drain_node is not in the policy" in models["solver"]["reason"]
    assert line["decision"]["status"] == "ready"
    assert line["decision"]["action"]["type"] == "no_action"
