"""The derived columns the stats read, which the ORM tables do not map.

Generated columns (migrations 0007 and 0009): the database derives each from its own row's
JSON on every write, and covering indexes hold them, so the stats group and filter by them
without parsing JSON. Read here as plain table clauses; nothing writes them.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Boolean, DateTime, Float, Integer, String, column, literal_column
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, TableClause, table

from warroom.stats.sql import IndexedTable

TURN_KIND = "agent.turn"
READY_KIND = "decision.ready"
LEARN_KIND = "learn.updated"


def kind_is(events: TableClause, kind: str) -> ColumnElement[bool]:
    """`kind = '<kind>'` as a literal: SQLite uses a partial index only for a WHERE it can read."""
    return events.c.kind == literal_column(f"'{kind}'")


def _indexed(index: str, name: str, *columns: ColumnClause[Any]) -> IndexedTable:
    """The table `name` read through `index` alone (a class of its own: a cache key of its own)."""
    kind = type(f"Indexed_{index}", (IndexedTable,), {"index": index, "inherit_cache": True})
    return cast(IndexedTable, kind(name, *columns))


# the agent turns' figures (0007), read from their partial index alone
TURNS = _indexed(
    "ix_audit_events_turns", "audit_events", column("kind", String),
    column("incident_id", String), column("session_id", String), column("turn_role", String),
    column("turn_backend", String), column("turn_latency_ms", Float),
    column("turn_degraded", Integer),
)
# the learning events' playbook and trust after (0009)
LEARNING = _indexed(
    "ix_audit_events_learning", "audit_events", column("kind", String),
    column("at", DateTime(timezone=True)), column("seq", Integer), column("incident_id", String),
    column("learn_playbook", String), column("learn_trust", Float),
)
# one audit event by its sequence number (its primary key)
EVENTS = table("audit_events", column("seq", Integer), column("learn_trust", Float))
# whether a ready event's debate timed out (0009)
READY = _indexed("ix_audit_events_ready", "audit_events", column("kind", String),
                 column("decision_token", String), column("ready_timeout", Integer))
DECISIONS = _indexed(
    "ix_decisions_stats", "decisions", column("token", String), column("incident_id", String),
    column("parent_token", String), column("status", String), column("fault", String),
    column("action_type", String), column("package_team", String),
    column("created_at", DateTime(timezone=True)), column("ready_at", DateTime(timezone=True)),
)
SIGNALS = _indexed("ix_signals_stats", "signals", column("incident_id", String),
                   column("alerted_namespace", String), column("alerted_service", String))
EXECUTIONS = _indexed("ix_executions_stats", "executions", column("decision_token", String),
                      column("started_at", DateTime(timezone=True)),
                      column("action_type", String))
APPROVALS = _indexed("ix_approvals_stats", "approvals", column("decision_token", String),
                     column("verdict", String), column("via", String))
VERIFICATIONS = _indexed("ix_verifications_stats", "verifications",
                         column("decision_token", String), column("verdict", String))
CHALLENGES = _indexed("ix_challenges_stats", "challenge_outcomes",
                      column("decision_token", String), column("proved_right", Boolean))
