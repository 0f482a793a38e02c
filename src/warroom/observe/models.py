"""Types of the observability context."""

from __future__ import annotations

from pydantic import BaseModel

PRIORITIES = ("P0", "P1", "P2", "P3")
# the stages of the workflow backlog: waiting for a worker, then the decision's active states
BACKLOG_STAGES = ("queued", "analyzing", "ready", "approved", "executing", "verifying")


class DatabaseGauges(BaseModel):
    """What the database says at scrape time."""

    open_incidents: dict[str, int]  # priority -> count
    backlog: dict[str, int]  # stage -> count
    audit_chain_length: int
