"""stats: the facts the stats group by, as columns of their rows, and indexes that hold them

Over a whole year's history (100,000 incidents) the stats spent seconds parsing JSON: the
team inside each decision package (~2 kB), the service inside each alert's labels, the
playbook and trust inside each learning event, the timeout flag inside each `decision.ready`
event, the action type inside each execution. Generated columns let the database derive each
value from its own row, on every write and for the rows already stored (nothing else writes
them: no second bookkeeping), and covering indexes hold them with the keys the stats join on,
so a whole history is read from indexes alone.

- `decisions.package_team`: the team the package named.
- `signals.alerted_service`, `signals.alerted_namespace`: the service an alert is about (the
  first non-empty of the service labels ingestion reads, `ingest.normalize.SERVICE_LABELS`
  when this was written) and its namespace label; '' when none.
- `audit_events.learn_playbook`, `learn_trust`: a `learn.updated` event's playbook key and
  trust after it; `audit_events.ready_timeout`: 1 when a `decision.ready` event says the debate
  timed out. NULL on the other kinds.
- `executions.action_type`: the executed action's type.

On SQLite the columns are VIRTUAL (computed only into the indexes); PostgreSQL can add only
STORED ones, which backfills them when the table is rewritten. The audit trail's append-only
triggers do not fire: ALTER TABLE is not an UPDATE.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the labels naming an alert's service, in the order ingestion reads them
SERVICE_LABELS = ("service", "app", "app_kubernetes_io_name", "deployment", "statefulset",
                  "daemonset", "job")


def _text(column: str, key: str, sqlite: bool) -> str:
    return f"json_extract({column}, '$.\"{key}\"')" if sqlite else f"({column} ->> '{key}')"


def _service(sqlite: bool) -> str:
    labels = ", ".join(f"nullif({_text('labels', name, sqlite)}, '')" for name in SERVICE_LABELS)
    return f"coalesce({labels}, '')"


LEARN = "kind = 'learn.updated'"
READY = "kind = 'decision.ready'"


def _columns(sqlite: bool) -> dict[str, list[tuple[str, str, str]]]:
    """table -> (column, type, expression)."""
    # a number, or NULL: a generated column that failed to cast would refuse the event
    trust = ("CASE WHEN json_type(payload, '$.trust_after') IN ('real', 'integer') "
             "THEN json_extract(payload, '$.trust_after') END" if sqlite
             else "CASE WHEN json_typeof(payload -> 'trust_after') = 'number' "
             "THEN (payload ->> 'trust_after')::double precision END")
    return {
        "decisions": [("package_team", "VARCHAR(64)", _text("package", "team", sqlite))],
        "signals": [
            ("alerted_service", "VARCHAR(253)", _service(sqlite)),
            ("alerted_namespace", "VARCHAR(253)",
             f"coalesce({_text('labels', 'namespace', sqlite)}, '')"),
        ],
        "audit_events": [
            ("learn_playbook", "VARCHAR(160)",
             f"CASE WHEN {LEARN} THEN {_text('payload', 'playbook', sqlite)} END"),
            ("learn_trust", "FLOAT", f"CASE WHEN {LEARN} THEN {trust} END"),
            ("ready_timeout", "INTEGER",
             f"CASE WHEN {READY} THEN CASE WHEN "
             f"{_text('payload', 'package_status', sqlite)} = 'timeout' THEN 1 ELSE 0 END END"),
        ],
        "executions": [("action_type", "VARCHAR(32)", _text("action", "type", sqlite))],
    }


# name -> (table, columns, partial WHERE or "")
INDEXES = {
    "ix_incidents_stats": ("incidents", ["opened_at", "namespace", "service", "status",
                                         "priority", "resolved_at", "id"], ""),
    "ix_decisions_stats": ("decisions", ["incident_id", "parent_token", "fault",
                                         "package_team", "created_at", "ready_at", "status",
                                         "action_type", "token"], ""),
    "ix_signals_stats": ("signals", ["incident_id", "alerted_namespace", "alerted_service"], ""),
    "ix_audit_events_learning": ("audit_events", ["at", "learn_playbook", "seq", "incident_id"],
                                 LEARN),
    "ix_audit_events_ready": ("audit_events", ["decision_token", "ready_timeout"], READY),
    "ix_executions_stats": ("executions", ["decision_token", "started_at", "action_type"], ""),
    "ix_approvals_stats": ("approvals", ["decision_token", "verdict", "via"], ""),
    "ix_verifications_stats": ("verifications", ["decision_token", "verdict"], ""),
    "ix_challenges_stats": ("challenge_outcomes", ["decision_token", "proved_right"], ""),
}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, columns in _columns(sqlite).items():
        added = [f"ADD COLUMN {name} {kind} GENERATED ALWAYS AS ({expression}) "
                 f"{'VIRTUAL' if sqlite else 'STORED'}" for name, kind, expression in columns]
        if sqlite:  # SQLite adds one column per statement
            for clause in added:
                op.execute(f"ALTER TABLE {table} {clause}")
        else:  # one rewrite of the table for all its columns
            op.execute(f"ALTER TABLE {table} {', '.join(added)}")
    for name, (table, keys, where) in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} ({', '.join(keys)})"
                   + (f" WHERE {where}" if where else ""))


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.execute(f"DROP INDEX {name}")
    for table, columns in reversed(_columns(False).items()):
        for column, _, _ in reversed(columns):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
