"""stats: the language-model turns' usage read from one index

The AI stats sum each agent's and each model's tokens and cost over the turns of a range's
incidents. `ix_llm_turns_incident_id` finds the turns but every one of them then costs a
table read, so PostgreSQL preferred to scan the whole table (every turn of the history) for
a week's figures. This index holds what the stats read, so the planner walks the range's
incidents and reads the index alone.

Revision ID: 0008_stats_idx
Revises: 0007
Create Date: 2026-12-04 21:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_llm_turns_usage"
COLUMNS = ["incident_id", "role", "model", "cached", "input_tokens", "output_tokens",
           "cost_usd"]


def upgrade() -> None:
    op.create_index(INDEX, "llm_turns", COLUMNS)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="llm_turns")
