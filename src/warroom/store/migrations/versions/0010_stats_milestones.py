"""stats: milestones and outcomes kept on their rows by the database, turns in a narrow table

A whole year's history (100,000 incidents, 500,000 agent turns) still cost seconds on SQLite:
every stats request joined each incident to its decisions, executions, approvals,
verifications and challenges, and ranked half a million turn latencies with a sort. SQLite
joins only by lookups, so each of those facts cost one index lookup per incident per request.

Here the database folds each new fact into the row the stats read, in the transaction that
writes the fact, by triggers: nothing in the application writes these columns (no second
bookkeeping), and the migration derives them for the rows already stored.

- `incidents.acknowledged_at`, `decided_at`, `executed_at`: the first decision created, the
  first decision ready, the first execution started, over all of the incident's decisions;
  `acknowledge_s`, `decision_ready_s`, `execution_s`, `recovery_s`: the seconds from opening
  to each (generated). Indexes in the order of each duration let the percentiles of a long
  range be read by walking to the rank (`LIMIT 1 OFFSET k`) instead of sorting.
- `decision_facts`, one narrow row per decision (its incident, the incident's opening time, its
  parent, and its status, proposed action type, fault class and team, copied as they change),
  with `approved` (2 by policy, 1 by
  a person, 0 not), `human_rejected`, `verified` (2 success, 1 another verdict, 0 none),
  `timed_out`, `executed_low`/`executed_high` (the lowest and highest executed action type),
  `challenges`, `challenges_right`: the maxima, minima and counts the AI figures used to
  compute per request. A table of its own, not columns of `decisions`: each fact would
  otherwise rewrite the decision's whole row, package included (on PostgreSQL, a new copy).
- `agent_turns`: each `agent.turn` audit event's figures with its incident's opening time,
  inserted by the database when the event is (the audit trail stays append-only and
  untouched); indexes by role and by backend in latency order.
- `llm_turns.opened_at`: the incident's opening time, so a range's model turns are read from
  one index without a lookup per incident (set before the insert on PostgreSQL).

Incidents keep their `opened_at` for life (a re-opened incident is the same incident), so
the copies never go stale. A fact is folded in when inserted, which is the only way these
rows are written (an execution's type, a verdict and an approval are never edited).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MILESTONES = {"acknowledge_s": "acknowledged_at", "decision_ready_s": "decided_at",
              "execution_s": "executed_at", "recovery_s": "resolved_at"}
FACT_COLUMNS = ("approved", "human_rejected", "verified", "timed_out", "executed_low",
                "executed_high", "challenges", "challenges_right")

# the value each kind of fact contributes (NEW is the inserted row)
APPROVED = "CASE WHEN NEW.verdict <> 'approve' THEN 0 WHEN NEW.via = 'policy' THEN 2 ELSE 1 END"
REJECTED = "CASE WHEN NEW.verdict = 'reject' AND NEW.via <> 'policy' THEN 1 ELSE 0 END"
VERIFIED = "CASE WHEN NEW.verdict = 'success' THEN 2 ELSE 1 END"
RIGHT = "CASE WHEN NEW.proved_right THEN 1 ELSE 0 END"
OF_DECISION = "(SELECT incident_id FROM decisions WHERE token = NEW.decision_token)"
OPENED = "(SELECT opened_at FROM incidents WHERE id = NEW.incident_id)"


def _earliest(column: str, value: str, sqlite: bool) -> str:
    """`column` lowered to `value` when that is earlier (a NULL value changes nothing)."""
    if sqlite:
        return (f"{column} = CASE WHEN {value} IS NOT NULL AND ({column} IS NULL OR "
                f"julianday({value}) < julianday({column})) THEN {value} ELSE {column} END")
    return f"{column} = LEAST({column}, {value})"  # LEAST ignores NULLs


def _most(column: str, value: str, sqlite: bool) -> str:
    return f"{column} = {'max' if sqlite else 'GREATEST'}({column}, {value})"


def _type_bounds(sqlite: bool) -> str:
    value = "NEW.action_type"
    if sqlite:
        return (f"executed_low = CASE WHEN executed_low IS NULL OR {value} < executed_low "
                f"THEN {value} ELSE executed_low END, "
                f"executed_high = CASE WHEN executed_high IS NULL OR {value} > executed_high "
                f"THEN {value} ELSE executed_high END")
    return f"executed_low = LEAST(executed_low, {value}), " \
           f"executed_high = GREATEST(executed_high, {value})"


def _triggers(sqlite: bool) -> list[tuple[str, str, str, str, list[str]]]:
    """(name, table, event, WHEN condition or "", statements) per AFTER trigger."""
    incident = "UPDATE incidents SET {} WHERE id = {}"
    decision = "UPDATE decision_facts SET {} WHERE token = NEW.decision_token"
    turn = ("INSERT INTO agent_turns (seq, incident_id, opened_at, session_id, role, backend, "
            "latency_ms, degraded) SELECT NEW.seq, NEW.incident_id, opened_at, NEW.session_id, "
            "coalesce(NEW.turn_role, ''), NEW.turn_backend, NEW.turn_latency_ms, "
            "NEW.turn_degraded FROM incidents WHERE id = NEW.incident_id")
    triggers = [
        ("stats_decision_inserted", "decisions", "INSERT", "", [
            incident.format(_earliest("acknowledged_at", "NEW.created_at", sqlite) + ", "
                            + _earliest("decided_at", "NEW.ready_at", sqlite),
                            "NEW.incident_id"),
            "INSERT INTO decision_facts (token, incident_id, opened_at, parent_token, status, "
            "action_type, fault, team) SELECT NEW.token, NEW.incident_id, opened_at, "
            "NEW.parent_token, NEW.status, NEW.action_type, NEW.fault, NEW.package_team "
            "FROM incidents WHERE id = NEW.incident_id"]),
        ("stats_decision_ready", "decisions", "UPDATE OF ready_at", "NEW.ready_at IS NOT NULL",
         [incident.format(_earliest("decided_at", "NEW.ready_at", sqlite), "NEW.incident_id")]),
        ("stats_decision_moved", "decisions", "UPDATE OF status, action_type, fault, package",
         "", ["UPDATE decision_facts SET status = NEW.status, action_type = NEW.action_type, "
              "fault = NEW.fault, team = NEW.package_team WHERE token = NEW.token"]),
        ("stats_decision_deleted", "decisions", "DELETE", "", [
            "DELETE FROM decision_facts WHERE token = OLD.token"]),
        ("stats_execution_inserted", "executions", "INSERT", "", [
            incident.format(_earliest("executed_at", "NEW.started_at", sqlite), OF_DECISION),
            decision.format(_type_bounds(sqlite))]),
        ("stats_approval_inserted", "approvals", "INSERT", "", [decision.format(
            _most("approved", APPROVED, sqlite) + ", "
            + _most("human_rejected", REJECTED, sqlite))]),
        ("stats_verification_inserted", "verifications", "INSERT", "",
         [decision.format(_most("verified", VERIFIED, sqlite))]),
        ("stats_challenge_inserted", "challenge_outcomes", "INSERT", "", [decision.format(
            f"challenges = challenges + 1, challenges_right = challenges_right + {RIGHT}")]),
        ("stats_ready_recorded", "audit_events", "INSERT", "NEW.kind = 'decision.ready'",
         [decision.format(_most("timed_out", "coalesce(NEW.ready_timeout, 0)", sqlite))]),
        ("stats_turn_recorded", "audit_events", "INSERT", "NEW.kind = 'agent.turn'", [turn]),
    ]
    if sqlite:  # PostgreSQL sets it before the insert (`LLM_BEFORE`): no second row version
        triggers.append(("stats_llm_turn_inserted", "llm_turns", "INSERT", "", [
            f"UPDATE llm_turns SET opened_at = {OPENED} WHERE id = NEW.id"]))
    return triggers


LLM_BEFORE = "stats_llm_turn_opened"


def _seconds(column: str, sqlite: bool) -> str:
    if sqlite:
        return f"((julianday({column}) - julianday(opened_at)) * 86400.0)"
    return f"EXTRACT(EPOCH FROM ({column} - opened_at))::double precision"


# the rows already stored: the same folds, computed over each row's facts at once
BACKFILL = [
    """UPDATE incidents SET
        acknowledged_at = (SELECT min(created_at) FROM decisions d WHERE d.incident_id = incidents.id),
        decided_at = (SELECT min(ready_at) FROM decisions d WHERE d.incident_id = incidents.id),
        executed_at = (SELECT min(e.started_at) FROM decisions d JOIN executions e
                       ON e.decision_token = d.token WHERE d.incident_id = incidents.id)""",
    """INSERT INTO decision_facts (token, incident_id, opened_at, parent_token, status,
        action_type, fault, team)
       SELECT d.token, d.incident_id, i.opened_at, d.parent_token, d.status, d.action_type,
              d.fault, d.package_team
       FROM decisions d JOIN incidents i ON i.id = d.incident_id""",
    """UPDATE decision_facts SET
        approved = coalesce((SELECT max(CASE WHEN verdict <> 'approve' THEN 0
                  WHEN via = 'policy' THEN 2 ELSE 1 END) FROM approvals a
                  WHERE a.decision_token = decision_facts.token), 0),
        human_rejected = coalesce((SELECT max(CASE WHEN verdict = 'reject' AND via <> 'policy'
                  THEN 1 ELSE 0 END) FROM approvals a
                  WHERE a.decision_token = decision_facts.token), 0),
        verified = coalesce((SELECT max(CASE WHEN verdict = 'success' THEN 2 ELSE 1 END)
                  FROM verifications v WHERE v.decision_token = decision_facts.token), 0),
        timed_out = coalesce((SELECT max(ready_timeout) FROM audit_events r
                  WHERE r.kind = 'decision.ready'
                  AND r.decision_token = decision_facts.token), 0),
        executed_low = (SELECT min(action_type) FROM executions e
                  WHERE e.decision_token = decision_facts.token),
        executed_high = (SELECT max(action_type) FROM executions e
                  WHERE e.decision_token = decision_facts.token),
        challenges = (SELECT count(*) FROM challenge_outcomes c
                  WHERE c.decision_token = decision_facts.token),
        challenges_right = (SELECT count(*) FROM challenge_outcomes c
                  WHERE c.decision_token = decision_facts.token AND c.proved_right)""",
    """INSERT INTO agent_turns (seq, incident_id, opened_at, session_id, role, backend,
        latency_ms, degraded)
       SELECT a.seq, a.incident_id, i.opened_at, a.session_id, coalesce(a.turn_role, ''),
              a.turn_backend, a.turn_latency_ms, a.turn_degraded
       FROM audit_events a JOIN incidents i ON i.id = a.incident_id
       WHERE a.kind = 'agent.turn'""",
    """UPDATE llm_turns SET opened_at = (SELECT opened_at FROM incidents i
        WHERE i.id = llm_turns.incident_id)""",
]

# name -> (table, columns, partial WHERE or ""); the walks read a duration's index in order
INDEXES = {
    **{f"ix_incidents_{name}": ("incidents", [name, "opened_at", "namespace", "service"],
                                f"{name} IS NOT NULL") for name in MILESTONES},
    "ix_incidents_milestones": ("incidents", ["opened_at", "namespace", "service",
                                              *MILESTONES], ""),
    "ix_decision_facts_range": ("decision_facts", ["opened_at", "status", *FACT_COLUMNS,
                                                   "action_type"], ""),
    "ix_decision_facts_incident": ("decision_facts", ["incident_id"], ""),
    # the fault class and team of each incident's first (root) decision
    "ix_decision_facts_kinds": ("decision_facts", ["opened_at", "fault", "team", "incident_id"],
                                "parent_token IS NULL"),
    # counted per role and backend in one pass; walked per role and per backend
    "ix_agent_turns_groups": ("agent_turns", ["role", "backend", "opened_at", "degraded",
                                              "latency_ms"], ""),
    "ix_agent_turns_role": ("agent_turns", ["role", "latency_ms", "opened_at"],
                            "latency_ms IS NOT NULL"),
    "ix_agent_turns_backend": ("agent_turns", ["backend", "latency_ms", "opened_at"],
                               "latency_ms IS NOT NULL"),
    "ix_agent_turns_range": ("agent_turns", ["opened_at", "incident_id", "role", "backend",
                                             "latency_ms", "degraded"], ""),
    "ix_agent_turns_degraded": ("agent_turns", ["opened_at", "session_id", "incident_id"],
                                "degraded = 1"),
    "ix_llm_turns_range": ("llm_turns", ["role", "model", "opened_at", "cached", "input_tokens",
                                         "output_tokens", "cost_usd"], ""),
}
# the indexes the stats read before (0007, 0008, 0009), which nothing reads now: dropped, so
# no write maintains them, and made again by the downgrade
SUPERSEDED = {
    "ix_audit_events_turns": ("audit_events", ["incident_id", "turn_role", "turn_backend",
                                               "turn_latency_ms", "turn_degraded",
                                               "session_id"], "kind = 'agent.turn'"),
    "ix_audit_events_ready": ("audit_events", ["decision_token", "ready_timeout"],
                              "kind = 'decision.ready'"),
    "ix_llm_turns_usage": ("llm_turns", ["incident_id", "role", "model", "cached",
                                         "input_tokens", "output_tokens", "cost_usd"], ""),
    "ix_decisions_stats": ("decisions", ["incident_id", "parent_token", "fault",
                                         "package_team", "created_at", "ready_at", "status",
                                         "action_type", "token"], ""),
    "ix_executions_stats": ("executions", ["decision_token", "started_at", "action_type"], ""),
    "ix_approvals_stats": ("approvals", ["decision_token", "verdict", "via"], ""),
    "ix_verifications_stats": ("verifications", ["decision_token", "verdict"], ""),
    "ix_challenges_stats": ("challenge_outcomes", ["decision_token", "proved_right"], ""),
}
# SQLite reads each day's recoveries in order from an index on the day (no sort to rank)
DAY_INDEX = ("CREATE INDEX ix_incidents_recovery_day ON incidents "
             "(date(opened_at), recovery_s, opened_at, namespace, service) "
             "WHERE recovery_s IS NOT NULL")


def _create_indexes(indexes: dict[str, tuple[str, list[str], str]]) -> None:
    for name, (table, keys, where) in indexes.items():
        op.execute(f"CREATE INDEX {name} ON {table} ({', '.join(keys)})"
                   + (f" WHERE {where}" if where else ""))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    stamp = "DATETIME" if sqlite else "TIMESTAMP WITH TIME ZONE"
    generated = "VIRTUAL" if sqlite else "STORED"
    for column in ("acknowledged_at", "decided_at", "executed_at"):
        op.execute(f"ALTER TABLE incidents ADD COLUMN {column} {stamp}")
    op.execute(f"ALTER TABLE llm_turns ADD COLUMN opened_at {stamp}")
    op.execute(f"""CREATE TABLE decision_facts (
        token VARCHAR(64) PRIMARY KEY, incident_id VARCHAR(36) NOT NULL,
        opened_at {stamp} NOT NULL, parent_token VARCHAR(64), status VARCHAR(16) NOT NULL,
        action_type VARCHAR(32), fault VARCHAR(64), team VARCHAR(64),
        approved INTEGER NOT NULL DEFAULT 0, human_rejected INTEGER NOT NULL DEFAULT 0,
        verified INTEGER NOT NULL DEFAULT 0, timed_out INTEGER NOT NULL DEFAULT 0,
        executed_low VARCHAR(32), executed_high VARCHAR(32),
        challenges INTEGER NOT NULL DEFAULT 0, challenges_right INTEGER NOT NULL DEFAULT 0)""")
    op.execute(f"""CREATE TABLE agent_turns (
        seq {'INTEGER' if sqlite else 'BIGINT'} PRIMARY KEY, incident_id VARCHAR(36) NOT NULL,
        opened_at {stamp} NOT NULL, session_id VARCHAR(64), role VARCHAR(32) NOT NULL, backend VARCHAR(64),
        latency_ms FLOAT, degraded INTEGER NOT NULL DEFAULT 0)""")
    for statement in BACKFILL:
        op.execute(statement)
    # the durations last: PostgreSQL computes a STORED column when it is added
    for name, column in MILESTONES.items():
        op.execute(f"ALTER TABLE incidents ADD COLUMN {name} FLOAT GENERATED ALWAYS AS "
                   f"({_seconds(column, sqlite)}) {generated}")
    _create_indexes(INDEXES)
    if sqlite:
        op.execute(DAY_INDEX)
    for name in SUPERSEDED:
        op.execute(f"DROP INDEX {name}")
    for name, table, event, when, statements in _triggers(sqlite):
        if sqlite:
            op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW "
                       + (f"WHEN {when} " if when else "")
                       + "BEGIN " + "; ".join(statements) + "; END")
            continue
        op.execute(f"CREATE FUNCTION warroom_{name}() RETURNS trigger AS $$ BEGIN "
                   + "; ".join(statements) + "; RETURN NULL; END $$ LANGUAGE plpgsql")
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW "
                   + (f"WHEN ({when}) " if when else "")
                   + f"EXECUTE FUNCTION warroom_{name}()")
    if not sqlite:
        op.execute(f"CREATE FUNCTION warroom_{LLM_BEFORE}() RETURNS trigger AS $$ BEGIN "
                   f"NEW.opened_at := {OPENED}; RETURN NEW; END $$ LANGUAGE plpgsql")
        op.execute(f"CREATE TRIGGER {LLM_BEFORE} BEFORE INSERT ON llm_turns FOR EACH ROW "
                   f"EXECUTE FUNCTION warroom_{LLM_BEFORE}()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if not sqlite:
        op.execute(f"DROP TRIGGER {LLM_BEFORE} ON llm_turns")
        op.execute(f"DROP FUNCTION warroom_{LLM_BEFORE}()")
    for name, table, _, _, _ in reversed(_triggers(sqlite)):
        if sqlite:
            op.execute(f"DROP TRIGGER {name}")
        else:
            op.execute(f"DROP TRIGGER {name} ON {table}")
            op.execute(f"DROP FUNCTION warroom_{name}()")
    _create_indexes(SUPERSEDED)
    if sqlite:
        op.execute("DROP INDEX ix_incidents_recovery_day")
    for name in reversed(INDEXES):
        op.execute(f"DROP INDEX {name}")
    op.execute("DROP TABLE agent_turns")
    op.execute("DROP TABLE decision_facts")
    op.execute("ALTER TABLE llm_turns DROP COLUMN opened_at")
    # the generated durations before the columns they read
    for column in [*reversed(MILESTONES), "executed_at", "decided_at", "acknowledged_at"]:
        op.execute(f"ALTER TABLE incidents DROP COLUMN {column}")
