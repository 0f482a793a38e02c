"""The one settings object: nothing else in warroom reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    agent_backend: str = "rules"  # rules | llm (the language-model backends come later)
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
