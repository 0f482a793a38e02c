"""stats: indexes the stats queries range over, and the agent turns' figures as columns

`incidents.opened_at` and `incidents.resolved_at` bound every stats query to its time range,
so a week's figures read a week of rows however long the history is; `audit_events (kind, at)`
does the same for the learning events behind playbook trust over time.

Agent turns are audit rows whose figures (role, backend, latency, degraded) sit inside a JSON
payload of about a kilobyte; parsing it for every turn made the AI figures cost seconds at
100,000 incidents. Generated columns let the database derive those four values from the
payload (nothing writes them: no second bookkeeping), and a partial index over the turns
holds them, so the stats read the index alone. On SQLite the columns are VIRTUAL (computed
only into the index); PostgreSQL can add only STORED ones. The append-only triggers do not
fire: ALTER TABLE is not an UPDATE.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TURN = "kind = 'agent.turn'"
# column -> (type, SQLite expression, PostgreSQL expression), NULL on rows that are no turn
TURN_COLUMNS = {
    "turn_role": ("VARCHAR(32)", "json_extract(payload, '$.role')", "payload ->> 'role'"),
    "turn_backend": ("VARCHAR(64)", "coalesce(json_extract(payload, '$.backend'), 'rules')",
                     "coalesce(payload ->> 'backend', 'rules')"),
    "turn_latency_ms": (
        "FLOAT",
        "CASE WHEN json_type(payload, '$.latency_ms') IN ('real', 'integer') "
        "THEN json_extract(payload, '$.latency_ms') END",
        "CASE WHEN json_typeof(payload -> 'latency_ms') = 'number' "
        "THEN (payload ->> 'latency_ms')::double precision END"),
    "turn_degraded": ("INTEGER", "CASE WHEN json_extract(payload, '$.degraded') THEN 1 ELSE 0 END",
                      "CASE WHEN payload ->> 'degraded' = 'true' THEN 1 ELSE 0 END"),
}
INDEXES = (
    ("ix_incidents_opened_at", "incidents", ["opened_at"]),
    ("ix_incidents_resolved_at", "incidents", ["resolved_at"]),
    # one kind of event in a time range (playbook trust over time)
    ("ix_audit_events_kind_at", "audit_events", ["kind", "at"]),
)
TURN_INDEX = "ix_audit_events_turns"
TURN_INDEX_COLUMNS = ["incident_id", "turn_role", "turn_backend", "turn_latency_ms",
                      "turn_degraded", "session_id"]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column, (kind, lite, pg) in TURN_COLUMNS.items():
        expression, storage = (lite, "VIRTUAL") if sqlite else (pg, "STORED")
        op.execute(f"ALTER TABLE audit_events ADD COLUMN {column} {kind} GENERATED ALWAYS AS "
                   f"(CASE WHEN {TURN} THEN {expression} END) {storage}")
    op.execute(f"CREATE INDEX {TURN_INDEX} ON audit_events ({', '.join(TURN_INDEX_COLUMNS)}) "
               f"WHERE {TURN}")


def downgrade() -> None:
    op.execute(f"DROP INDEX {TURN_INDEX}")
    for column in reversed(TURN_COLUMNS):
        op.execute(f"ALTER TABLE audit_events DROP COLUMN {column}")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
