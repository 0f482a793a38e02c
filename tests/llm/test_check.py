from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from warroom.cli import app
from warroom.config import get_settings

from .conftest import FakeOpenAI

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings(allow_loopback: None) -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_check_reports_who_answered_with_tokens(fake_openai: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_LLM_BASE_URL", fake_openai)
    monkeypatch.setenv("WARROOM_LLM_MODEL", "fake-model-1")
    monkeypatch.setenv("WARROOM_LLM_API_KEY", "sk-test-never-printed-0123456789")
    result = runner.invoke(app, ["llm", "check"])
    assert result.exit_code == 0, result.output
    assert "default (fake-model-1) answered in" in result.output
    assert "11 input + 1 output tokens" in result.output
    assert "never-printed" not in result.output
    assert FakeOpenAI.requests[0]["path"] == "/v1/chat/completions"


def test_check_names_the_dead_provider_and_falls_back(
        fake_openai: str, closed_port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_LLM_PROVIDERS", json.dumps([
        {"name": "dead", "model": "m", "base_url": closed_port},
        {"name": "alive", "model": "fake-model-1", "base_url": fake_openai}]))
    result = runner.invoke(app, ["llm", "check", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    failed = re.search(r"dead \(m\) FAILED after (\d+) ms: (.*)", result.output)
    assert failed is not None, result.output
    assert int(failed.group(1)) < 2000, "a dead endpoint fails fast, not after retries"
    assert "Connect" in failed.group(2)
    assert "alive (fake-model-1) answered" in result.output


def test_check_fails_when_no_provider_answers(closed_port: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_LLM_BASE_URL", closed_port)
    monkeypatch.setenv("WARROOM_LLM_MODEL", "m")
    result = runner.invoke(app, ["llm", "check", "--timeout", "2"])
    assert result.exit_code == 1
    assert "default (m) FAILED" in result.output


def test_check_without_providers_says_how_to_configure() -> None:
    result = runner.invoke(app, ["llm", "check"])
    assert result.exit_code == 2
    assert "WARROOM_LLM_MODEL" in result.output


def test_an_unknown_route_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARROOM_LLM_MODEL", "test:agree")
    monkeypatch.setenv("WARROOM_LLM_ROUTES", json.dumps({"summary": ["small"]}))
    result = runner.invoke(app, ["llm", "check"])
    assert result.exit_code == 2
    assert "llm_routes.summary: unknown provider(s) small" in result.output
