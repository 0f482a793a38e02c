"""The one settings object: nothing else in warroom reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from warroom.config.models import (
    AgentBackend,
    DefaultRole,
    Language,
    LLMProvider,
    MCPServerConfig,
    NotifyRoute,
    SeverityMap,
    TimeZone,
    WebhookTarget,
)


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

    # HTTP server; `serve` refuses any address but loopback while `auth_enabled` is off
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)

    # ingestion: grouping of signals into incidents
    group_window_seconds: int = Field(default=900, gt=0)
    # label sets tried in order; the first set whose labels are all present forms the group key
    group_by: list[list[str]] = [["namespace", "service"], ["namespace", "alertname"], ["job"]]
    severity_map: SeverityMap = {
        "critical": "P1",
        "error": "P2",
        "warning": "P2",
        "info": "P3",
        "none": "P3",
    }
    default_priority: str = "P3"
    # a cascade is one incident: a new alert from a service connected in `service_map` to the
    # root candidate of an open incident (within the grouping window) joins it, and the deepest
    # service becomes its root candidate; needs a service map (the sandbox provides its own)
    cascade_grouping: bool = True
    # the dependency graph, caller -> the services it calls (bare service names, as in the
    # alerts' `service` label), e.g. {"checkout": ["orders", "payments"], "orders": ["orders-db"]}
    service_map: dict[str, list[str]] = {}
    # ingestion listeners hear each incident that only received re-sent alerts at most this often
    listener_resend_interval_seconds: float = Field(default=5.0, ge=0)

    # evidence
    sensor_timeout_seconds: float = Field(default=5.0, gt=0)
    evidence_lookback_seconds: int = Field(default=3600, gt=0)
    prometheus_url: str = ""
    kubeconfig: str = ""  # empty: in-cluster config if available, else ~/.kube/config
    # further attempts of a Kubernetes API call that is safe to resend (reads, dry runs, calls
    # that never reached the server; see kube/retry.py): a write that may have been applied
    # is never sent twice
    kube_retries: int = Field(default=3, ge=0, le=10)
    # how long the executor waits for one Kubernetes API call before it counts as timed out
    kube_timeout_seconds: float = Field(default=10.0, gt=0)
    # set by Kubernetes itself in every pod (no WARROOM_ prefix): warroom runs in a cluster
    kubernetes_service_host: str = Field(
        default="", validation_alias=AliasChoices("KUBERNETES_SERVICE_HOST",
                                                  "WARROOM_KUBERNETES_SERVICE_HOST"))

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
    # debates (incident workflows) running at once across all workers
    workflow_concurrency: int = Field(default=8, gt=0)
    # executions running at once across all workers (always one at a time per namespace)
    execution_concurrency: int = Field(default=4, gt=0)

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
    workflow_version: str = "3"
    # DBOS executor id of this worker; empty (the default): derived per process from
    # `pod_name` (or the host name and pid) plus a random suffix, so workers need no setup and
    # a revived process never shares an id with its dead predecessor. A fixed id resumes its
    # own workflows on restart: set it only when exactly one worker runs.
    worker_id: str = ""
    # the Kubernetes pod name (the manifests set WARROOM_POD_NAME from the downward API)
    pod_name: str = ""
    # how often each worker writes its heartbeat to the application database
    worker_heartbeat_seconds: float = Field(default=2.0, gt=0)
    # how often the app looks for decisions whose workflow failed for good (a step out of its
    # retries) and hands them to a human (workflow/sweeper.py); also once at start
    workflow_sweep_seconds: float = Field(default=60.0, gt=0)
    # a worker silent (or stopped) this long is declared dead and a live worker takes over its
    # pending workflows through DBOS recovery; must exceed two heartbeats
    worker_takeover_seconds: float = Field(default=10.0, gt=0)
    # connections each worker keeps to the DBOS system database (PostgreSQL counts every
    # process's pools against max_connections: workers x (this + the app pool) + APIs)
    dbos_pool_size: int = Field(default=10, gt=0)
    # how often the worker polls the incident queue and the approval mailbox on SQLite
    workflow_poll_seconds: float = Field(default=0.02, gt=0)
    # how often it polls the execution queue: partitioned by namespace, each poll costs several
    # queries, and an execution follows a human's approval, so a fraction of a second is free
    execution_poll_seconds: float = Field(default=0.5, gt=0)
    # on SQLite, how long an embedded worker's write waits while ingestion has group commits
    # queued before it writes anyway (`store/turns.py`): the storm's acknowledgements first,
    # and still at least one worker write per this interval
    worker_write_defer_seconds: float = Field(default=0.25, ge=0)
    # test-only fault hook: pause this long inside the execution step, after the idempotency
    # record is committed and before the executor call, so a crash test can kill it mid-step
    execute_pause_seconds: float = Field(default=0.0, ge=0)

    # event feed (optional)
    redis_url: str = ""
    event_stream_maxlen: int = Field(default=10_000, gt=0)

    log_level: str = "INFO"
    # log lines: json (one object a line), console (readable), auto (console on a terminal,
    # json otherwise)
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")

    # self-observability (docs/observability.md)
    # OTLP/HTTP traces endpoint (e.g. http://127.0.0.1:4318/v1/traces); empty: no tracing
    otlp_traces_endpoint: str = ""
    # headers sent with every OTLP export (e.g. Authorization for Langfuse)
    otlp_headers: dict[str, str] = {}
    # `service.name` of the spans this process exports
    otel_service_name: str = "warroom"
    # `warroom worker` serves its own /metrics on this loopback port; 0: none
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)

    # language models (see docs/models.md)
    # the one-provider shorthand: any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp, OpenAI);
    # a model named `test:NAME` without a base URL is one of warroom's scripted test models
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    # the shorthand's server: openai (OpenAI, Ollama, vLLM, any OpenAI-compatible server) or
    # llama_cpp (llama.cpp's server: structured answers as JSON in the prompt, with a grammar)
    llm_kind: Literal["openai", "llama_cpp"] = "openai"
    # how the shorthand asks for structured answers (see LLMProvider.output_mode)
    llm_output_mode: Literal["tool", "native", "prompted"] = "tool"
    # named providers beyond the shorthand, as JSON (kind, model, base_url, api_key(_file), ...)
    llm_providers: list[LLMProvider] = []
    # role (diagnostician, solver, reviewer, critic, summary) -> provider names tried in order
    # (a fallback chain); a role not listed uses every provider, the shorthand first
    llm_routes: dict[str, list[str]] = {}
    # how long a model answer is reused for the same model, prompt and evidence; 0 disables
    llm_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    # where cached answers live: auto (Redis when `redis_url` is set, else the database),
    # database, or redis (needs `redis_url`)
    llm_cache_store: Literal["auto", "database", "redis"] = "auto"
    # time kept back from every deadline for the rule answer that stands when a model is late
    llm_reserve_seconds: float = Field(default=1.0, ge=0)
    # most tokens one model answer may use
    llm_max_output_tokens: int = Field(default=1024, gt=0)
    # most characters of sanitized evidence one prompt carries
    llm_evidence_chars: int = Field(default=12_000, gt=1000)
    # investigation tool calls the Diagnostician's model may make per turn; 0: no tools
    llm_tool_steps: int = Field(default=4, ge=0)
    # MCP servers whose allow-listed read-only tools the Diagnostician's model may also call
    llm_mcp_servers: list[MCPServerConfig] = []
    # deprecated alias of `otlp_traces_endpoint`, which now carries the gen_ai.* spans of model
    # runs too: a base URL (http://127.0.0.1:4318) used when `otlp_traces_endpoint` is empty
    llm_otlp_endpoint: str = ""
    # put prompts and answers in the spans too (they hold sanitized evidence)
    llm_trace_content: bool = False

    # chat and webhook notifications (docs/chat.md); nothing is sent without a route
    notify_routes: list[NotifyRoute] = []
    # Slack app: bot token (xoxb-...) to post cards, signing secret to verify button clicks
    notify_slack_bot_token: SecretStr = SecretStr("")
    notify_slack_signing_secret: SecretStr = SecretStr("")
    notify_slack_api_url: str = "https://slack.com/api/"  # a local fake in tests
    # Slack user id -> warroom user name; an unmapped user's click is refused
    notify_slack_users: dict[str, str] = {}
    # Telegram bot: token from BotFather, the secret_token given to setWebhook
    notify_telegram_bot_token: SecretStr = SecretStr("")
    notify_telegram_webhook_secret: SecretStr = SecretStr("")
    notify_telegram_api_url: str = "https://api.telegram.org/bot"  # a local fake in tests
    # Telegram user id -> warroom user name; an unmapped user's click is refused
    notify_telegram_users: dict[str, str] = {}
    # generic webhooks by name, for routes `webhook:NAME`
    notify_webhooks: dict[str, WebhookTarget] = {}
    # the outbox sender: how often it looks for work, and its retries with exponential backoff
    notify_poll_seconds: float = Field(default=1.0, gt=0)
    notify_max_attempts: int = Field(default=8, gt=0)
    notify_retry_base_seconds: float = Field(default=2.0, gt=0)
    notify_retry_max_seconds: float = Field(default=300.0, gt=0)
    notify_send_timeout_seconds: float = Field(default=10.0, gt=0)

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

    # the people's language and time zone (docs/configuration.md#language-and-time-zone):
    # text for people (the dashboard, the demo's account) in `language`, times shown in `timezone`;
    # everything is stored in UTC and machine-facing output stays language-neutral
    language: Language = "en"  # en | zh-TW
    timezone: TimeZone = "UTC"  # an IANA zone, e.g. Asia/Taipei

    # access: identities, API tokens, dashboard sign-in (docs/access.md)
    # every request but the public paths needs a token or a dashboard session; false lets
    # anonymous requests in as the admin "local", for loopback-only use
    auth_enabled: bool = True
    # the webhooks need a token too (Alertmanager's http_config: bearer, or basic auth with
    # the token as password); false accepts unauthenticated alerts
    ingest_auth: bool = True
    # the API token the CLI sends (WARROOM_TOKEN), or a file holding it
    token: str = ""
    token_file: Path | None = None
    # how long a new API token lives unless told otherwise (`tokens create --days`)
    token_days: int = Field(default=90, gt=0, le=3650)
    # a verified token is trusted this long before it is read again: a revocation made in
    # another process takes effect within it
    auth_cache_seconds: float = Field(default=5.0, ge=0)
    # a dashboard session ends this long after sign-in
    session_seconds: int = Field(default=8 * 3600, gt=0)
    # OpenID Connect sign-in for the dashboard: on when issuer and client id are set
    oidc_issuer: str = ""  # e.g. https://keycloak.example.com/realms/ops
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # where the provider sends the browser back; empty: /auth/oidc/callback on this host
    oidc_redirect_url: str = ""
    oidc_scopes: str = "openid email profile"
    # the ID-token claim that names the warroom user (lower-cased)
    oidc_username_claim: str = "email"
    # role of a signed-in user not added with `warroom users add`; empty refuses them
    oidc_default_role: DefaultRole = ""
    # the sign-in button's label
    oidc_provider_name: str = "single sign-on"
    # signs the short-lived OIDC sign-in cookie; empty: random per process. Set the same
    # value on every replica behind one load balancer
    secret_key: str = ""
    # a real local model (`warroom local-llm`, the optional extra `warroom[local-llm]`): where
    # the Gemma 3 270M GGUF is assembled from its package; empty: `home`/models
    local_llm_dir: str = ""
    # a cassette of model answers (docs/local-model.md): `record` asks the configured models and
    # writes every answer to the file; `replay` answers from the file alone, no server needed
    llm_cassette: str = ""
    llm_cassette_mode: Literal["record", "replay"] = "replay"

    @property
    def oidc_enabled(self) -> bool:
        """Tell whether OpenID Connect sign-in is configured."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    def cli_token(self) -> str:
        """Return the API token the CLI sends: `token`, else the content of `token_file`."""
        if self.token:
            return self.token.strip()
        if self.token_file is not None:
            try:
                return self.token_file.expanduser().read_text().strip()
            except OSError as exc:
                raise ValueError(f"token_file {self.token_file}: {exc.strerror}") from exc
        return ""

    @model_validator(mode="after")
    def _takeover_outlasts_heartbeats(self) -> Settings:
        if self.worker_takeover_seconds <= 2 * self.worker_heartbeat_seconds:
            raise ValueError(
                f"worker_takeover_seconds ({self.worker_takeover_seconds:g}) must exceed two "
                f"heartbeats (worker_heartbeat_seconds={self.worker_heartbeat_seconds:g})"
            )
        return self

    @model_validator(mode="after")
    def _one_otlp_endpoint(self) -> Settings:
        # the deprecated alias took a base URL; the one exporter takes the traces URL
        if self.llm_otlp_endpoint and not self.otlp_traces_endpoint:
            self.otlp_traces_endpoint = self.llm_otlp_endpoint.rstrip("/") + "/v1/traces"
        return self

    @model_validator(mode="after")
    def _redis_cache_has_redis(self) -> Settings:
        if self.llm_cache_store == "redis" and not self.redis_url:
            raise ValueError("llm_cache_store is redis: set WARROOM_REDIS_URL")
        return self

    @model_validator(mode="after")
    def _routes_have_credentials(self) -> Settings:
        for i, route in enumerate(self.notify_routes):
            platform, _, name = route.to.partition(":")
            missing = {
                "slack": not self.notify_slack_bot_token.get_secret_value()
                and "WARROOM_NOTIFY_SLACK_BOT_TOKEN",
                "telegram": not self.notify_telegram_bot_token.get_secret_value()
                and "WARROOM_NOTIFY_TELEGRAM_BOT_TOKEN",
                "webhook": name not in self.notify_webhooks
                and f"WARROOM_NOTIFY_WEBHOOKS with an entry named {name!r}",
            }[platform]
            if missing:
                raise ValueError(f"notify_routes[{i}] sends to {route.to!r}: set {missing}")
        return self

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
    def llm_cache_in_redis(self) -> bool:
        """Tell whether the response cache is kept in Redis rather than the database."""
        return self.llm_cache_store == "redis" or (
            self.llm_cache_store == "auto" and bool(self.redis_url))

    @property
    def llm_chain_providers(self) -> list[LLMProvider]:
        """Return every configured provider, the one-provider shorthand first."""
        out = []
        if self.llm_model:
            scripted = self.llm_model.startswith("test:") and not self.llm_base_url
            out.append(LLMProvider(
                name="default", kind="test" if scripted else self.llm_kind,
                model=self.llm_model.removeprefix("test:") if scripted else self.llm_model,
                base_url=self.llm_base_url, api_key=self.llm_api_key,
                output_mode=self.llm_output_mode))
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
