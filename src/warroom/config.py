"""The one settings object: nothing else in warroom reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

AgentBackend = Literal["rules", "llm", "hybrid"]


class LLMProvider(BaseModel):
    """One language-model provider: an entry of a fallback chain (see docs/models.md)."""

    name: str
    # openai: any OpenAI-compatible server; llama_cpp: its server, with its quirks handled;
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


class Settings(BaseSettings):
    """Every knob warroom has, read from `WARROOM_*` environment variables or a `.env` file."""

    model_config = SettingsConfigDict(
        env_prefix="WARROOM_", env_file=".env", env_file_encoding="utf-8", extra="ignore",
        env_nested_delimiter="__",
    )

    # where warroom keeps its files (SQLite databases, the demo kubeconfig, ...)
    home: Path = Path(".warroom")
    # SQLAlchemy async URL; empty means a SQLite file under `home`
    database_url: str = ""
    # DBOS system database URL; empty means a SQLite file under `home`, or `database_url` when
    # that is PostgreSQL
    dbos_database_url: str = ""

    # HTTP server; 127.0.0.1 until authentication lands: nothing is exposed by default
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)

    # ingestion: grouping of signals into incidents
    group_window_seconds: int = Field(default=900, gt=0)
    # label sets tried in order; the first set whose labels are all present forms the group key
    group_by: list[list[str]] = [["namespace", "service"], ["namespace", "alertname"], ["job"]]
    severity_map: dict[str, str] = {
        "critical": "P1",
        "error": "P2",
        "warning": "P2",
        "info": "P3",
        "none": "P3",
    }
    default_priority: str = "P3"
    # ingestion listeners hear each incident that only received re-sent alerts at most this often
    listener_resend_interval_seconds: float = Field(default=5.0, ge=0)

    # evidence
    sensor_timeout_seconds: float = Field(default=5.0, gt=0)
    evidence_lookback_seconds: int = Field(default=3600, gt=0)
    prometheus_url: str = ""
    kubeconfig: str = ""  # empty: in-cluster config if available, else ~/.kube/config

    # debate
    agent_deadline_seconds: float = Field(default=8.0, gt=0)
    debate_deadline_seconds: float = Field(default=20.0, gt=0)
    # rules | llm | hybrid for every model-backed agent (the Coordinator is always rules)
    agent_backend: AgentBackend = "rules"
    # per-agent overrides of `agent_backend`; empty: use `agent_backend`
    diagnostician_backend: AgentBackend | None = None
    solver_backend: AgentBackend | None = None
    reviewer_backend: AgentBackend | None = None
    critic_backend: AgentBackend | None = None
    service_teams: dict[str, str] = {}  # "namespace/service" or "service" -> team
    critical_namespaces: list[str] = ["prod", "production", "payments", "kube-system"]

    # decisions, approval and execution
    decision_deadline_seconds: float = Field(default=30.0, gt=0)
    approval_timeout_seconds: float = Field(default=3600.0, gt=0)
    shadow_mode: bool = True
    auto_execute_namespaces: list[str] = []
    trust_threshold: float = Field(default=0.8, ge=0, le=1)
    workflow_concurrency: int = Field(default=8, gt=0)

    # verification and learning
    verify_warmup_seconds: float = Field(default=60.0, ge=0)
    verify_timeout_seconds: float = Field(default=600.0, gt=0)
    trust_alpha: float = Field(default=0.2, gt=0, le=1)
    trust_failure_weight: float = Field(default=2.0, ge=1)

    # durable workflow engine (DBOS)
    # run the workflow worker inside `warroom serve` (`serve --no-worker` turns it off)
    embedded_worker: bool = True
    # schema of the DBOS system tables on PostgreSQL
    dbos_system_schema: str = "dbos"
    # recovery resumes only workflows of the same version: bump it when the workflow changes shape
    workflow_version: str = "1"
    # DBOS executor id of this worker: stable across restarts (a restarted worker resumes the
    # workflows of its id) and distinct per worker process when several run at once
    worker_id: str = "local"
    # how often the worker polls the queue and the approval mailbox on SQLite
    workflow_poll_seconds: float = Field(default=0.02, gt=0)
    # test-only fault hook: pause this long inside the execution step, after the idempotency
    # record is committed and before the executor call, so a crash test can kill it mid-step
    execute_pause_seconds: float = Field(default=0.0, ge=0)

    # event feed (optional)
    redis_url: str = ""
    event_stream_maxlen: int = Field(default=10_000, gt=0)

    log_level: str = "INFO"

    # language models (see docs/models.md)
    # the one-provider shorthand: any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, OpenAI);
    # a model named `test:NAME` without a base URL is one of warroom's scripted test models
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    # named providers beyond the shorthand, as JSON (kind, model, base_url, api_key(_file), ...)
    llm_providers: list[LLMProvider] = []
    # role (diagnostician, solver, reviewer, critic, summary) -> provider names tried in order
    # (a fallback chain); a role not listed uses every provider, the shorthand first
    llm_routes: dict[str, list[str]] = {}
    # how long a model answer is reused for the same model, prompt and evidence; 0 disables
    llm_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    # time kept back from every deadline for the rule answer that stands when a model is late
    llm_reserve_seconds: float = Field(default=1.0, ge=0)
    # most tokens one model answer may use
    llm_max_output_tokens: int = Field(default=1024, gt=0)
    # most characters of sanitized evidence one prompt carries
    llm_evidence_chars: int = Field(default=12_000, gt=1000)
    # investigation tool calls the Diagnostician's model may make per turn; 0: no tools
    llm_tool_steps: int = Field(default=4, ge=0)
    # OTLP/HTTP endpoint (e.g. http://127.0.0.1:4318) for gen_ai.* spans of model runs;
    # empty: no tracing (needs the warroom[tracing] extra)
    llm_otlp_endpoint: str = ""
    # put prompts and answers in the spans too (they hold sanitized evidence)
    llm_trace_content: bool = False

    # the sandbox cluster (`warroom sandbox ...`, `serve --sandbox`, `demo`)
    sandbox_port: int = Field(default=0, ge=0, le=65535)  # 0: any free loopback port
    sandbox_tick_seconds: float = Field(default=15.0, gt=0)  # simulated seconds per tick
    sandbox_tick_interval_seconds: float = Field(default=0.5, gt=0)  # wall seconds per tick
    sandbox_seed: int = 7
    # where the sandbox posts Alertmanager webhooks; empty: this warroom's own ingest endpoint
    sandbox_webhook_url: str = ""
    # a running sandbox (or `warroom serve --sandbox`) for `warroom sandbox inject|faults`;
    # empty: http://{host}:{port}
    sandbox_url: str = ""

    # a real local model (`warroom local-llm`, the optional extra `warroom[local-llm]`): where
    # the Gemma 3 270M GGUF is assembled from its package; empty: `home`/models
    local_llm_dir: str = ""
    # a cassette of model answers (docs/local-model.md): `record` asks the configured models and
    # writes every answer to the file; `replay` answers from the file alone, no server needed
    llm_cassette: str = ""
    llm_cassette_mode: Literal["record", "replay"] = "replay"

    @field_validator("severity_map")
    @classmethod
    def _priorities_are_known(cls, value: dict[str, str]) -> dict[str, str]:
        bad = {k: v for k, v in value.items() if v not in {"P0", "P1", "P2", "P3"}}
        if bad:
            raise ValueError(f"severity_map values must be P0..P3, got {bad}")
        return {k.lower(): v for k, v in value.items()}

    @property
    def effective_database_url(self) -> str:
        """Return the application database URL, defaulting to SQLite under `home`."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.home / 'warroom.sqlite').resolve()}"

    def backend_for(self, role: str) -> AgentBackend:
        """Return the backend of one agent: its own override, else `agent_backend`."""
        own: AgentBackend | None = getattr(self, f"{role}_backend", None)
        return own or self.agent_backend

    @property
    def llm_chain_providers(self) -> list[LLMProvider]:
        """Return every configured provider, the one-provider shorthand first."""
        out = []
        if self.llm_model:
            scripted = self.llm_model.startswith("test:") and not self.llm_base_url
            out.append(LLMProvider(
                name="default", kind="test" if scripted else "openai",
                model=self.llm_model.removeprefix("test:") if scripted else self.llm_model,
                base_url=self.llm_base_url, api_key=self.llm_api_key))
        return out + list(self.llm_providers)

    @property
    def effective_local_llm_dir(self) -> Path:
        """Return the directory the local model is assembled in."""
        return Path(self.local_llm_dir) if self.local_llm_dir else self.home / "models"

    @property
    def effective_dbos_database_url(self) -> str:
        """Return the DBOS system database URL (a synchronous SQLAlchemy URL)."""
        if self.dbos_database_url:
            return self.dbos_database_url
        if self.effective_database_url.startswith("postgresql"):
            return self.effective_database_url.replace("+asyncpg", "")
        return f"sqlite:///{(self.home / 'dbos.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return Settings()
