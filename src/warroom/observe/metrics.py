"""warroom's own Prometheus metrics: defined once here, incremented where the work happens.

Every process (the API, each `warroom worker`) counts what it does itself in the default
registry; `/metrics` on the API and `worker --metrics-port` expose it. Gauges that need the
database (open incidents, workflow backlog, audit chain length) are read at scrape time by
`warroom.observe.collector`, on the API only. Label values come from small fixed sets (status
codes, step names, verdicts), never from incident ids or services, so cardinality stays flat.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# ingestion
WEBHOOKS = Counter(
    "warroom_webhooks", "Webhooks received, by source and HTTP status answered (202 stored).",
    ["source", "code"],
)
ALERTS = Counter(
    "warroom_alerts_received", "Alerts in accepted webhooks, by source and alert status.",
    ["source", "status"],
)
ACK_SECONDS = Histogram(
    "warroom_ingest_ack_seconds",
    "Time from reading a webhook to acknowledging it (after the commit that stored it).",
    ["source"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_WEBHOOKS = Histogram(
    "warroom_ingest_batch_webhooks", "Webhooks stored by one group commit.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
BATCH_ALERTS = Histogram(
    "warroom_ingest_batch_alerts", "Alerts stored by one group commit.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
COMMIT_SECONDS = Histogram(
    "warroom_ingest_commit_seconds", "Duration of one group-commit transaction.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
DATABASE_ERRORS = Counter(
    "warroom_database_errors",
    "Operations that failed because the database was unavailable, by where they failed.",
    ["where"],
)

# workflow
STEP_SECONDS = Histogram(
    "warroom_workflow_step_seconds", "Duration of one workflow step attempt, by step and result.",
    ["step", "result"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
WORKFLOWS_CLOSED = Counter(
    "warroom_workflows_closed",
    "Decision workflows closed, by outcome (escalated, rejected, expired, success, ...).",
    ["outcome"],
)

# debate and decisions
DEBATE_SECONDS = Histogram(
    "warroom_debate_seconds",
    "Sensing and debate of one decision round, by the package status (ready, timeout, failed).",
    ["status"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0),
)
AGENT_SECONDS = Histogram(
    "warroom_agent_turn_seconds", "One agent turn, by role, backend and result (ok, degraded).",
    ["role", "backend", "result"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
)
DECISION_TRANSITIONS = Counter(
    "warroom_decision_transitions",
    "Decisions entering a state, by state and who moved them (warroom, policy, human).",
    ["to", "by"],
)

# execution, verification, notification
EXECUTIONS = Counter(
    "warroom_executions", "Execution attempts, by executor and result.", ["executor", "result"],
)
VERIFICATION_SCORE = Histogram(
    "warroom_verification_score", "Self-healing score of each verification, by verdict.",
    ["verdict"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
NOTIFICATION_FAILURES = Counter(
    "warroom_notification_failures",
    "Notifications (Slack, Telegram, webhook) that could not be delivered, by channel.",
    ["channel"],
)


def who(actor: str) -> str:
    """Name the kind of actor for the `by` label: warroom itself, the policy, or a human."""
    return actor if actor in ("warroom", "policy") else "human"
