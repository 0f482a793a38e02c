"""The settings read the same `WARROOM_*` variables, nested values included, and refuse bad ones."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from warroom.config import LLMProvider, MCPServerConfig, NotifyRoute, Settings, WebhookTarget


def read(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_variables_set_flat_and_structured_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = read(
        monkeypatch,
        WARROOM_WORKER_HEARTBEAT_SECONDS="1.5",
        WARROOM_LLM_PROVIDERS=json.dumps([{"name": "local", "model": "gemma",
                                           "base_url": "http://127.0.0.1:8000/v1"}]),
        WARROOM_LLM_MCP_SERVERS=json.dumps([{"name": "docs", "url": "http://127.0.0.1:1/mcp",
                                             "tools": ["search"]}]),
        WARROOM_NOTIFY_WEBHOOKS=json.dumps({"ops": {"url": "https://hooks.example/ops",
                                                    "secret": "s" * 16}}),
        WARROOM_NOTIFY_ROUTES=json.dumps([{"to": "webhook:ops", "namespaces": ["shop"]}]),
        KUBERNETES_SERVICE_HOST="10.0.0.1",
        WARROOM_SEVERITY_MAP='{"CRITICAL": "P0"}',
        WARROOM_LANGUAGE="zh-TW", WARROOM_TIMEZONE="Asia/Taipei",
    )
    assert settings.worker_heartbeat_seconds == 1.5
    assert settings.llm_providers == [LLMProvider(name="local", model="gemma",
                                                  base_url="http://127.0.0.1:8000/v1")]
    assert isinstance(settings.llm_mcp_servers[0], MCPServerConfig)
    assert isinstance(settings.notify_webhooks["ops"], WebhookTarget)
    assert settings.notify_routes == [NotifyRoute(to="webhook:ops", namespaces=["shop"])]
    assert settings.kubernetes_service_host == "10.0.0.1"
    assert settings.severity_map == {"critical": "P0"}
    assert (settings.language, settings.timezone) == ("zh-TW", "Asia/Taipei")


@pytest.mark.parametrize(("env", "says"), [
    ({"WARROOM_WORKER_TAKEOVER_SECONDS": "3", "WARROOM_WORKER_HEARTBEAT_SECONDS": "2"},
     "must exceed two heartbeats"),
    ({"WARROOM_NOTIFY_ROUTES": '[{"to": "slack:C1"}]'}, "WARROOM_NOTIFY_SLACK_BOT_TOKEN"),
    ({"WARROOM_LLM_MCP_SERVERS": '[{"name": "x", "tools": ["t"]}]'}, "give either `command`"),
    ({"WARROOM_SEVERITY_MAP": '{"critical": "P9"}'}, "severity_map values must be P0..P3"),
    ({"WARROOM_OIDC_DEFAULT_ROLE": "root"}, "oidc_default_role must be empty, viewer"),
    ({"WARROOM_LANGUAGE": "xx"}, "xx"),
    ({"WARROOM_TIMEZONE": "Mars/Olympus"}, "Mars/Olympus"),
])
def test_bad_values_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        read(monkeypatch, **env)
