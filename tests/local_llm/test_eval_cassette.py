"""An LLM-mode eval recorded on a cassette, then replayed from it alone, decision for decision."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from warroom.cli import app
from warroom.config import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # deadlines far from a loaded CI machine's pauses: the comparison is of answers, not speed
    monkeypatch.setenv("WARROOM_AGENT_DEADLINE_SECONDS", "60")
    monkeypatch.setenv("WARROOM_DEBATE_DEADLINE_SECONDS", "120")
    monkeypatch.setenv("WARROOM_LLM_CACHE_TTL_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def subset(scenarios_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    for name in ("holmesgpt-ask-21.json", "opensre-eks-000.json"):
        shutil.copy(scenarios_dir / name, folder / name)
    return folder


def replay(subset: Path) -> list[dict[str, Any]]:
    get_settings.cache_clear()
    result = runner.invoke(app, ["replay", str(subset), "--json", "--backend", "hybrid",
                                 "--model", "test:agree"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def decisions(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(line["scenario"], line["decision"], line["hypotheses"],
             # the reviewer and the critic answer concurrently: their order is not an answer
             sorted((a["role"], (a.get("model") or {}).get("status")) for a in line["agents"]))
            for line in lines]


def test_a_recorded_eval_replays_without_the_model(subset: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = tmp_path / "hybrid.json"
    monkeypatch.setenv("WARROOM_LLM_CASSETTE", str(cassette))
    monkeypatch.setenv("WARROOM_LLM_CASSETTE_MODE", "record")
    recorded = replay(subset)
    entries = json.loads(cassette.read_text())["entries"]
    assert entries and {e["model"] for e in entries.values()} == {"test:agree"}
    asked = [a for line in recorded for a in line["agents"] if a.get("model")]
    assert asked and {a["model"]["status"] for a in asked} == {"accepted"}

    monkeypatch.setenv("WARROOM_LLM_CASSETTE_MODE", "replay")
    assert decisions(replay(subset)) == decisions(recorded)


def test_a_changed_question_falls_back_to_the_rules_visibly(
        subset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = tmp_path / "empty.json"
    cassette.write_text(json.dumps({"format": 1, "entries": {}}))
    monkeypatch.setenv("WARROOM_LLM_CASSETTE", str(cassette))
    lines = replay(subset)
    assert all(line["decision"]["status"] for line in lines)
    asked = [a["model"] for line in lines for a in line["agents"] if a.get("model")]
    failed = [m for m in asked if m["status"] == "failed"]
    assert failed and all("no recorded answer" in m["reason"] for m in failed)
    # once the chain failed in a debate, the other agents do not ask it again
    assert all(m["status"] == "skipped" and "failed earlier" in m["reason"]
               for m in asked if m["status"] != "failed")
