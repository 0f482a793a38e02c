"""The derived columns the stats read, which the ORM tables do not map.

Generated columns (migrations 0007 and 0009): the database derives each from its own row's
JSON on every write, and covering indexes hold them, so the stats group and filter by them
without parsing JSON. Milestones, decision outcomes and the `agent_turns` table (migration
0010): the database's triggers fold each new fact into them as it is inserted. Read here as
plain table clauses; nothing in the application writes them.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Boolean, DateTime, Float, Integer, String, column, literal_column
from sqlalchemy.sql.expression import ColumnClause, ColumnElement, TableClause, table

from warroom.stats.sql import IndexedTable

LEARN_KIND = "learn.updated"


def kind_is(events: TableClause, kind: str) -> ColumnElement[bool]:
    """`kind = '<kind>'` as a literal: SQLite uses a partial index only for a WHERE it can read."""
    return events.c.kind == literal_column(f"'{kind}'")


def _indexed(index: str, name: str, *columns: ColumnClause[Any]) -> IndexedTable:
    """The table `name` read through `index` alone (a class of its own: a cache key of its own)."""
    kind = type(f"Indexed_{index}", (IndexedTable,), {"index": index, "inherit_cache": True})
    return cast(IndexedTable, kind(name, *columns))


# the learning events' playbook and trust after (0009)
LEARNING = _indexed(
    "ix_audit_events_learning", "audit_events", column("kind", String),
    column("at", DateTime(timezone=True)), column("seq", Integer), column("incident_id", String),
    column("learn_playbook", String), column("learn_trust", Float),
)
MILESTONES = ("acknowledge", "decision_ready", "execution", "recovery")


def _incidents(index: str) -> IndexedTable:
    """The incidents with the seconds from opening to each milestone (0010), via `index`."""
    return _indexed(index, "incidents", column("id", String),
                    column("opened_at", DateTime(timezone=True)), column("namespace", String),
                    column("service", String),
                    *[column(f"{name}_s", Float) for name in MILESTONES])


# the incidents of a range with their milestones
INCIDENT_MILESTONES = _incidents("ix_incidents_milestones")
# each milestone's durations in order, for walking to a rank
MILESTONE_ORDER = {name: _incidents(f"ix_incidents_{name}_s") for name in MILESTONES}
# SQLite: each day's recoveries in order (an index on `date(opened_at)`; plain elsewhere)
RECOVERY_BY_DAY = _incidents("ix_incidents_recovery_day")
# each incident's root decisions' fault class and team (0010)
DECISION_KINDS = _indexed(
    "ix_decision_facts_kinds", "decision_facts", column("opened_at", DateTime(timezone=True)),
    column("incident_id", String), column("parent_token", String), column("fault", String),
    column("team", String),
)
# a decision's outcome facts, folded in by triggers as they are inserted (0010)
DECISION_FACTS = _indexed(
    "ix_decision_facts_range", "decision_facts", column("opened_at", DateTime(timezone=True)),
    column("incident_id", String), column("status", String),
    column("approved", Integer), column("human_rejected", Integer), column("verified", Integer),
    column("timed_out", Integer), column("action_type", String),
    column("executed_low", String), column("executed_high", String),
    column("challenges", Integer), column("challenges_right", Integer),
)


def _turns(index: str) -> IndexedTable:
    return _indexed(index, "agent_turns", column("seq", Integer), column("incident_id", String),
                    column("opened_at", DateTime(timezone=True)), column("session_id", String),
                    column("role", String), column("backend", String),
                    column("latency_ms", Float), column("degraded", Integer))


# the agent turns with their incident's opening time (0010): in a range, grouped by role and
# backend, by role and by backend in latency order, and the degraded ones
TURNS_RANGE = _turns("ix_agent_turns_range")
TURNS_GROUPS = _turns("ix_agent_turns_groups")
TURNS_BY = {"role": _turns("ix_agent_turns_role"), "backend": _turns("ix_agent_turns_backend")}
TURNS_DEGRADED = _turns("ix_agent_turns_degraded")
# the language-model turns with their incident's opening time (0010)
LLM_TURNS = _indexed(
    "ix_llm_turns_range", "llm_turns", column("incident_id", String), column("role", String),
    column("model", String), column("opened_at", DateTime(timezone=True)),
    column("cached", Boolean), column("input_tokens", Integer), column("output_tokens", Integer),
    column("cost_usd", Float),
)
# one audit event by its sequence number (its primary key)
EVENTS = table("audit_events", column("seq", Integer), column("learn_trust", Float))
SIGNALS = _indexed("ix_signals_stats", "signals", column("incident_id", String),
                   column("alerted_namespace", String), column("alerted_service", String))
