"""The values some settings hold: model providers, MCP servers, chat routes, webhook targets,
and the checked strings and maps (priorities, roles, language, time zone)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr, model_validator

from warroom.i18n.service import check_language, check_timezone

AgentBackend = Literal["rules", "llm", "hybrid"]


def _priorities_are_known(value: dict[str, str]) -> dict[str, str]:
    bad = {k: v for k, v in value.items() if v not in {"P0", "P1", "P2", "P3"}}
    if bad:
        raise ValueError(f"severity_map values must be P0..P3, got {bad}")
    return {k.lower(): v for k, v in value.items()}


def _role_is_known(value: str) -> str:
    if value not in ("", "viewer", "approver", "admin"):
        raise ValueError(f"oidc_default_role must be empty, viewer, approver or admin, "
                         f"got {value!r}")
    return value


def _language_has_a_catalog(value: str) -> str:
    return check_language(value)


def _timezone_exists(value: str) -> str:
    return check_timezone(value)


# alert severity (lower-cased) -> priority P0..P3
SeverityMap = Annotated[dict[str, str], AfterValidator(_priorities_are_known)]
# a role a signed-in user may get by default: empty (none), viewer, approver or admin
DefaultRole = Annotated[str, AfterValidator(_role_is_known)]
# a language warroom has a catalogue for
Language = Annotated[str, AfterValidator(_language_has_a_catalog)]
# an IANA time zone name
TimeZone = Annotated[str, AfterValidator(_timezone_exists)]


class LLMProvider(BaseModel):
    """One language-model provider: an entry of a fallback chain (see docs/models.md)."""

    name: str
    # openai: OpenAI, or any OpenAI-compatible server (a base URL that is not OpenAI's gets
    # `max_tokens`, which Ollama, vLLM and llama.cpp read, instead of `max_completion_tokens`);
    # llama_cpp: its server, with its quirks handled;
    # test: one of warroom's scripted models (`model` = agree | bogus | hang | error | garbage)
    kind: Literal["openai", "llama_cpp", "anthropic", "google", "test"] = "openai"
    model: str
    base_url: str = ""
    api_key: SecretStr = SecretStr("")
    api_key_file: Path | None = None  # read at start-up; wins over `api_key`
    # how structured answers are asked for: tool calls, the provider's JSON schema mode, or
    # the schema in the prompt (for servers without either)
    output_mode: Literal["tool", "native", "prompted"] = "tool"
    # US dollars per million input / output tokens, for the cost shown per turn and incident
    input_cost_per_mtok: float = Field(default=0.0, ge=0)
    output_cost_per_mtok: float = Field(default=0.0, ge=0)

    def key(self) -> str:
        """Return the API key, from its file when one is given (never logged)."""
        if self.api_key_file is not None:
            return self.api_key_file.read_text(encoding="utf-8").strip()
        return self.api_key.get_secret_value()


class MCPServerConfig(BaseModel):
    """An MCP server whose allow-listed read-only tools the investigating model may call."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")  # prefixes its tools' names
    command: list[str] = []  # stdio: the command that starts the server, and its arguments
    url: str = ""  # or streamable HTTP: the server's URL (http://127.0.0.1:8765/mcp)
    env: dict[str, str] = {}  # stdio: variables added to a minimal environment
    cwd: str = ""  # stdio: the working directory (default: warroom's)
    # the tools the model may call; a tool the server marks as writing is never offered
    tools: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_transport(self) -> MCPServerConfig:
        if bool(self.command) == bool(self.url):
            raise ValueError(f"MCP server {self.name}: give either `command` (stdio) or `url` "
                             "(streamable HTTP)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"MCP server {self.name}: url must start with http:// or https://")
        return self


class NotifyRoute(BaseModel):
    """Where the notifications of some incidents go: `to` is `slack:CHANNEL_ID`,
    `telegram:CHAT_ID` or `webhook:NAME`; empty `namespaces`/`priorities` match every one."""

    to: str = Field(pattern=r"^(slack|telegram|webhook):\S+$")
    namespaces: list[str] = []
    priorities: list[str] = []


class WebhookTarget(BaseModel):
    """A generic webhook receiver: the URL events are posted to and the HMAC-SHA256 secret."""

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr = Field(min_length=16)
