"""stats: indexes the stats queries range over

`incidents.opened_at` and `incidents.resolved_at` bound every stats query to its time range,
so a week's figures read a week of rows however long the history is. `audit_events
(incident_id, kind)` finds one incident's agent turns without reading its other events.

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-04 18:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_incidents_opened_at", "incidents", ["opened_at"]),
    ("ix_incidents_resolved_at", "incidents", ["resolved_at"]),
    ("ix_audit_events_incident_kind", "audit_events", ["incident_id", "kind"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
