"""audit_events.hash: drop the unique index

Each row's hash covers the previous row's hash, so two rows cannot share one; the chain, not
an index, is what `warroom audit verify` checks. The index cost every append a write to a
random page of a B-tree as large as the trail: under an alert storm, about half of the audit
trail's write cost.

SQLite cannot drop a constraint declared in CREATE TABLE, so there the table is rebuilt with
its rows, indexes and append-only triggers (DROP TABLE fires no DELETE trigger).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "seq, at, kind, actor, incident_id, decision_token, session_id, payload, prev_hash, hash"
_SQLITE_TABLE = """
CREATE TABLE {name} (
    seq INTEGER NOT NULL,
    at DATETIME NOT NULL,
    kind VARCHAR(64) NOT NULL,
    actor VARCHAR(253) NOT NULL,
    incident_id VARCHAR(36),
    decision_token VARCHAR(64),
    session_id VARCHAR(64),
    payload JSON NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (seq){unique}
)
"""


def _rebuild_sqlite(*, unique: bool) -> None:
    op.execute(
        _SQLITE_TABLE.format(name="audit_events_new", unique=",\n    UNIQUE (hash)" if unique else "")
    )
    op.execute(f"INSERT INTO audit_events_new ({_COLUMNS}) SELECT {_COLUMNS} FROM audit_events")
    op.execute("DROP TABLE audit_events")  # its indexes and triggers go with it
    op.execute("ALTER TABLE audit_events_new RENAME TO audit_events")
    for column in ("decision_token", "incident_id", "kind"):
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column])
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
            f"BEGIN SELECT RAISE(ABORT, 'audit_events is append-only ({verb} refused)'); END"
        )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_sqlite(unique=False)
        return
    for constraint in sa.inspect(bind).get_unique_constraints("audit_events"):
        if constraint["column_names"] == ["hash"] and constraint["name"]:
            op.drop_constraint(constraint["name"], "audit_events", type_="unique")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(unique=True)
        return
    op.create_unique_constraint("audit_events_hash_key", "audit_events", ["hash"])
