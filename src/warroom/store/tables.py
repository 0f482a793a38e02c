"""ORM tables of every bounded context, kept together to avoid import cycles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from warroom.domain.models import ReadyPackage
from warroom.store.types import ModelJson, UTCDateTime

Json = JSON().with_variant(JSON(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: Json}


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(512), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | resolved
    priority: Mapped[str] = mapped_column(String(4), index=True)  # P0..P3
    namespace: Mapped[str] = mapped_column(String(253), default="")
    service: Mapped[str] = mapped_column(String(253), default="", index=True)
    title: Mapped[str] = mapped_column(String(1024), default="")
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    # the newest signal activity; the grouping window is measured from it
    last_signal_at: Mapped[datetime]


class Signal(Base):
    """One alert, deduplicated by fingerprint; re-sends update it."""

    __tablename__ = "signals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(128), unique=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # alertmanager | generic
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    alertname: Mapped[str] = mapped_column(String(253), default="")
    severity: Mapped[str] = mapped_column(String(32), default="")
    labels: Mapped[dict[str, Any]]
    annotations: Mapped[dict[str, Any]]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    generator_url: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    receive_count: Mapped[int] = mapped_column(Integer, default=1)


class EvidenceSnapshotRow(Base):
    __tablename__ = "evidence_snapshots"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    taken_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]  # EvidenceSnapshot, sanitized


class AuditEvent(Base):
    """The append-only, hash-chained audit trail: no update, no delete (a trigger on PostgreSQL)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64), index=True)  # e.g. signal.received, agent.turn
    actor: Mapped[str] = mapped_column(String(253), default="warroom")
    incident_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    decision_token: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    session_id: Mapped[str | None] = mapped_column(String(64), default=None)
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    # not unique, not indexed: each hash covers the previous one (migration 0002 says why)
    hash: Mapped[str] = mapped_column(String(64))


class Decision(Base):
    __tablename__ = "decisions"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    # analyzing | ready | approved | rejected | expired | executing | verifying | completed | failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    # the ready decision's package with its policy verdict (None while analyzing)
    package: Mapped[ReadyPackage | None] = mapped_column(ModelJson(ReadyPackage), default=None)
    fault: Mapped[str | None] = mapped_column(String(64), default=None)
    action_type: Mapped[str | None] = mapped_column(String(32), default=None)
    requires_approvals: Mapped[int] = mapped_column(Integer, default=1)
    # a rollback proposal points at the decision it would undo
    parent_token: Mapped[str | None] = mapped_column(String(64), default=None)
    workflow_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ready_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("decision_token", "approver", name="uq_approval_approver"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_token: Mapped[str] = mapped_column(ForeignKey("decisions.token"), index=True)
    approver: Mapped[str] = mapped_column(String(253))
    verdict: Mapped[str] = mapped_column(String(16))  # approve | reject
    comment: Mapped[str] = mapped_column(Text, default="")
    via: Mapped[str] = mapped_column(String(32), default="api")  # api | cli | web | policy | chat
    at: Mapped[datetime]


class Execution(Base):
    """One executor call actually made; the idempotency key is written before the call."""

    __tablename__ = "executions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_token: Mapped[str] = mapped_column(ForeignKey("decisions.token"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    executor: Mapped[str] = mapped_column(String(32))  # shadow | kubernetes
    status: Mapped[str] = mapped_column(String(16))  # started | succeeded | failed | refused
    action: Mapped[dict[str, Any]]
    request: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)  # method, path, body
    kubectl: Mapped[str] = mapped_column(Text, default="")
    pre_state: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_token: Mapped[str] = mapped_column(ForeignKey("decisions.token"), index=True)
    verdict: Mapped[str] = mapped_column(String(16))  # success | degraded | failed | timeout
    score: Mapped[float] = mapped_column(Float)
    details: Mapped[dict[str, Any]]
    at: Mapped[datetime]


class Playbook(Base):
    """Trust in one (fault class, action type) pair, learned from verified outcomes."""

    __tablename__ = "playbooks"

    fault: Mapped[str] = mapped_column(String(64), primary_key=True)
    action_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    trust: Mapped[float] = mapped_column(Float, default=0.5)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class ChallengeOutcome(Base):
    """A critic challenge and whether the verified outcome proved it right."""

    __tablename__ = "challenge_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_token: Mapped[str] = mapped_column(ForeignKey("decisions.token"), index=True)
    question: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    proved_right: Mapped[bool]
    at: Mapped[datetime]


Index("ix_incidents_group_open", Incident.group_key, Incident.status)


class User(Base):
    """A person or machine that may use warroom, with its one role (see access/models.py)."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(253), primary_key=True)  # lower case
    role: Mapped[str] = mapped_column(String(16))  # viewer | approver | admin
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(253), default="")


class ApiToken(Base):
    """An API token: only its SHA-256 is stored; the token itself is shown once, at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to recognise it
    description: Mapped[str] = mapped_column(String(253), default="")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(253), default="")
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by: Mapped[str | None] = mapped_column(String(253), default=None)


class WebSession(Base):
    """A signed-in dashboard session: the cookie holds a secret, this row only its SHA-256."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    via: Mapped[str] = mapped_column(String(16))  # token | oidc
    csrf: Mapped[str] = mapped_column(String(64))  # the forms' anti-forgery token
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LLMCacheEntry(Base):
    """A model answer, reused for the same model, prompt and evidence until it expires."""

    __tablename__ = "llm_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the question
    model: Mapped[str] = mapped_column(String(256), default="")
    output: Mapped[dict[str, Any]]
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LLMTurnRow(Base):
    """One language-model turn of an agent: who answered, what it cost, whether it was used."""

    __tablename__ = "llm_turns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(String(36), index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # accepted, rejected, failed, timeout, skipped
    reason: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str] = mapped_column(String(256), default="")
    cached: Mapped[bool] = mapped_column(default=False)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[datetime]


class WorkerRow(Base):
    """A workflow worker's heartbeat, and who took over its workflows when it went silent."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(253), primary_key=True)
    host: Mapped[str] = mapped_column(String(253), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    # alive | stopped (clean exit) | dead (claimed by a taker) | recovered
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime]
    # epoch seconds, compared as numbers on every database
    heartbeat_at: Mapped[float] = mapped_column(Float)
    taken_over_by: Mapped[str | None] = mapped_column(String(253), default=None)
    taken_over_at: Mapped[float | None] = mapped_column(Float, default=None)
    recovered: Mapped[int] = mapped_column(Integer, default=0)


class NotifyOutbox(Base):
    """A notification owed to the chat platforms, written in the transaction of the change."""

    __tablename__ = "notify_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_token: Mapped[str] = mapped_column(String(64), index=True)
    incident_id: Mapped[str] = mapped_column(String(36))
    # ready | approval | approved | rejected | expired | executing | verifying | completed | failed
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # pending | done: done once every route has it or has given up on it
    status: Mapped[str] = mapped_column(String(16), index=True, default="pending")


class NotifyDelivery(Base):
    """One outbox entry on its way to one destination (`slack:C1`, `telegram:-100`, ...)."""

    __tablename__ = "notify_deliveries"
    __table_args__ = (UniqueConstraint("outbox_id", "destination", name="uq_notify_delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notify_outbox.id"), index=True)
    destination: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class NotifyCard(Base):
    """The platform's reference to a decision's card, so later changes edit it in place."""

    __tablename__ = "notify_cards"

    decision_token: Mapped[str] = mapped_column(String(64), primary_key=True)
    destination: Mapped[str] = mapped_column(String(300), primary_key=True)
    ref: Mapped[dict[str, Any]]  # Slack: channel, ts; Telegram: chat_id, message_id
    updated_at: Mapped[datetime]


class NotifyCallback(Base):
    """A chat callback already acted on: the same signed payload is refused a second time."""

    __tablename__ = "notify_callbacks"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]


# the stats' time ranges (migration 0007, which also derives the agent turns' figures)
Index("ix_incidents_opened_at", Incident.opened_at)
Index("ix_incidents_resolved_at", Incident.resolved_at)
Index("ix_audit_events_kind_at", AuditEvent.kind, AuditEvent.at)
# the stats over a whole history read from indexes alone (migration 0009, which also adds
# generated columns these tables do not map, and the indexes over them)
Index("ix_incidents_stats", Incident.opened_at, Incident.namespace, Incident.service,
      Incident.status, Incident.priority, Incident.resolved_at, Incident.id)
# (migration 0010 folds the stats' facts into columns these tables do not map, by triggers,
# adds the `agent_turns` table they fill, and drops the 0008 and 0009 indexes it supersedes)
