"""notify: the outbox, its deliveries, the cards' message references, seen callbacks

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(sa.JSON(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_token", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notify_outbox_decision_token", "notify_outbox", ["decision_token"])
    op.create_index("ix_notify_outbox_status", "notify_outbox", ["status"])
    op.create_table(
        "notify_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["notify_outbox.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("outbox_id", "destination", name="uq_notify_delivery"),
    )
    op.create_index("ix_notify_deliveries_outbox_id", "notify_deliveries", ["outbox_id"])
    op.create_index("ix_notify_deliveries_status", "notify_deliveries", ["status"])
    op.create_table(
        "notify_cards",
        sa.Column("decision_token", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=300), nullable=False),
        sa.Column("ref", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("decision_token", "destination"),
    )
    op.create_table(
        "notify_callbacks",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("notify_callbacks")
    op.drop_table("notify_cards")
    op.drop_index("ix_notify_deliveries_status", "notify_deliveries")
    op.drop_index("ix_notify_deliveries_outbox_id", "notify_deliveries")
    op.drop_table("notify_deliveries")
    op.drop_index("ix_notify_outbox_status", "notify_outbox")
    op.drop_index("ix_notify_outbox_decision_token", "notify_outbox")
    op.drop_table("notify_outbox")
