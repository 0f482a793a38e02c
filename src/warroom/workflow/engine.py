"""Start and stop DBOS in this process, and reach running workflows from any process.

The worker (`warroom worker`, or `warroom serve` in embedded mode) joins the fleet (heartbeats,
takeover of dead workers: `fleet.py`) and launches DBOS, which dequeues new workflows and the
ones recovered from dead workers. The API side only needs the
`WorkflowClient`: it enqueues workflows and sends approvals through the system database, so an
API process without a worker (`serve --no-worker`) works the same way.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from opentelemetry import context

from warroom.config import Settings
from warroom.observe.tracing import (
    configure_tracing,
    current_span_context,
    span,
    tracing_active,
)
from warroom.workflow.dbos_gaps import private_jitter, stop_dequeuing_and_cancel
from warroom.workflow.fleet import Fleet, worker_identity
from warroom.workflow.runtime import Runtime

APP_NAME = "warroom"
# the DBOS statuses of a workflow it will not run again by itself
_FAILED_FOR_GOOD = frozenset({"ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})


def dbos_config(settings: Settings) -> dict[str, Any]:
    """Return the DBOS configuration for these settings (system DB, version, polling)."""
    return {
        "name": APP_NAME,
        "system_database_url": settings.effective_dbos_database_url,
        "dbos_system_schema": settings.dbos_system_schema,
        # recovery only resumes workflows of the same version: never a hash of the code
        "application_version": settings.workflow_version,
        "executor_id": settings.worker_id,
        "notification_listener_polling_interval_sec": settings.workflow_poll_seconds,
        "sys_db_pool_size": settings.dbos_pool_size,
        "log_level": "WARNING",
        # DBOS's workflow and step spans, on the tracer provider warroom installed (DBOS
        # exports nothing itself: no endpoints are passed)
        "enable_otlp": tracing_active(),
    }


def _prepare_sqlite(url: str) -> None:
    """Create the SQLite system database's folder and put the file in WAL mode.

    DBOS leaves SQLite in its default rollback-journal mode, where every checkpoint costs
    several fsyncs (about 13 ms a step on a VM disk); in WAL mode, which persists in the file
    and keeps every commit durable, a step costs about 4 ms.
    """
    if not url.startswith("sqlite:///"):
        return

    path = Path(url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def system_database_engine(url: str) -> sa.Engine:
    """A synchronous engine on the DBOS system database, set up as DBOS sets up its own.

    On SQLite every transaction takes the write lock when it begins (as DBOS's do), so two
    writers never deadlock upgrading their locks, and a writer waits out a busy database.
    """
    if not url.startswith("sqlite"):
        parsed = sa.make_url(url)
        if not parsed.drivername.startswith("cockroachdb"):
            parsed = parsed.set(drivername="postgresql+psycopg")  # DBOS's driver
        return sa.create_engine(parsed, pool_size=1, max_overflow=1, pool_pre_ping=True)
    engine = sa.create_engine(url, pool_size=1, max_overflow=1)

    @sa.event.listens_for(engine, "connect")
    def _setup(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    return engine


def launch(runtime: Runtime) -> None:
    """Launch DBOS with the workflows registered, and register the incident and execution queues.

    The workflows run with `runtime` until `shutdown(runtime)`.
    """
    # lazy: cold import cost (python -X importtime): dbos ~1200 ms, warroom.workflow.incident ~484
    # ms (pulls dbos, prometheus_client); kept off the module's import path
    from dbos import DBOS

    from warroom.workflow import incident

    private_jitter()
    if not runtime.settings.worker_id:
        runtime.settings = runtime.settings.model_copy(
            update={"worker_id": worker_identity(runtime.settings)}
        )
    settings = runtime.settings
    configure_tracing(settings)
    _prepare_sqlite(settings.effective_dbos_database_url)
    incident.register(runtime)  # before DBOS.launch, which recovers workflows onto it
    DBOS(config=dbos_config(settings))  # type: ignore[arg-type]
    DBOS.launch()
    # queues are registered after launch (DBOS 3.4)
    DBOS.register_queue(
        incident.QUEUE,
        global_concurrency=settings.workflow_concurrency,
        polling_interval_sec=settings.workflow_poll_seconds,
    )
    # two actions on the same namespace never run at once, wherever their workers are
    DBOS.register_queue(
        incident.EXECUTE_QUEUE,
        global_concurrency=settings.execution_concurrency,
        partition_concurrency=1,
        polling_interval_sec=settings.execution_poll_seconds,
    )


def shutdown(runtime: Runtime) -> None:
    """Stop DBOS; pending workflows stay in the system database and resume on the next launch.

    The registry goes too (`incident.register` says why): the next launch in this process
    registers the workflows again, with its own runtime.
    """
    # lazy: cold import cost (python -X importtime): dbos ~1200 ms; kept off the module's import
    # path
    from dbos import DBOS

    stop_dequeuing_and_cancel()  # their transactions roll back and close
    runtime.close()
    DBOS.destroy(destroy_registry=True)


@dataclass
class Worker:
    """A running worker: the runtime its workflows use and its membership in the fleet."""

    runtime: Runtime
    fleet: Fleet

    @property
    def worker_id(self) -> str:
        """Return the DBOS executor id this worker runs workflows under."""
        return self.fleet.worker_id


async def launch_async(runtime: Runtime) -> Worker:
    """Join the fleet (heartbeats, takeover) and launch DBOS, without blocking the event loop."""
    worker_id = worker_identity(runtime.settings)
    runtime.settings = runtime.settings.model_copy(update={"worker_id": worker_id})
    fleet = Fleet(runtime.settings, runtime.engine_factory(runtime.settings), worker_id)
    await fleet.join()  # alive before DBOS dequeues anything in this worker's name
    fleet.start()  # beating while DBOS launches, so a slow launch is not taken for a death
    try:
        await asyncio.to_thread(launch, runtime)
    except BaseException:
        fleet.stop_beating()
        raise
    fleet.ready()
    return Worker(runtime, fleet)


async def shutdown_async(worker: Worker) -> None:
    """Stop DBOS, then leave the fleet so a live worker takes the open workflows over."""
    worker.fleet.stop_beating()
    await asyncio.to_thread(shutdown, worker.runtime)
    await worker.fleet.leave()


def migrate_system_database(settings: Settings) -> None:
    """Create or upgrade the DBOS system tables (what a client needs before a worker ran)."""
    # lazy: cold import cost (python -X importtime): dbos ~1200 ms; kept off the module's import
    # path
    from dbos import run_dbos_database_migrations

    _prepare_sqlite(settings.effective_dbos_database_url)
    run_dbos_database_migrations(
        settings.effective_dbos_database_url, schema=settings.dbos_system_schema
    )


@dataclass(frozen=True, slots=True)
class RoundStart:
    """An incident round to enqueue, and the span of the webhook that asked for it."""

    incident_id: str
    workflow_id: str
    trace_parent: Any = None


class WorkflowClient:
    """Enqueue incident workflows and message decision workflows through the system database."""

    def __init__(self, settings: Settings) -> None:
        # lazy: cold import cost (python -X importtime): dbos ~1200 ms; kept off the module's import
        # path
        from dbos import DBOSClient

        self._settings = settings
        self._client = DBOSClient(
            system_database_url=settings.effective_dbos_database_url,
            dbos_system_schema=settings.dbos_system_schema,
            application_name=APP_NAME,
            system_database_pool_size=settings.dbos_pool_size,
        )
        # the connection `enqueue_incidents` writes a whole batch through, in one transaction
        self._batch_engine = system_database_engine(settings.effective_dbos_database_url)

    def _options(self, workflow_id: str) -> Any:
        """The enqueue options of an incident round (the caller's span becomes its parent)."""
        # lazy: cold import cost (python -X importtime): dbos ~1200 ms, warroom.workflow.incident
        # ~486 ms (pulls dbos, prometheus_client); kept off the module's import path
        from dbos import EnqueueOptions

        from warroom.workflow.incident import CLASS_NAME, INCIDENT_WORKFLOW, INSTANCE_NAME, QUEUE

        options: EnqueueOptions = {
            "workflow_name": INCIDENT_WORKFLOW,
            # a method of the configured instance every worker registers (incident.register)
            "class_name": CLASS_NAME,
            "instance_name": INSTANCE_NAME,
            "queue_name": QUEUE,
            "workflow_id": workflow_id,
            "app_version": self._settings.workflow_version,
        }
        if current_span_context() is not None:
            # stored with the workflow: the worker's spans continue this trace
            options["otel_context"] = context.get_current()
        return options

    async def enqueue_incident(self, incident_id: str, workflow_id: str) -> str:
        """Enqueue an incident round; an id already used attaches to that workflow instead."""
        handle: Any = await self._client.enqueue_async(self._options(workflow_id), incident_id)
        return str(handle.get_workflow_id())

    async def enqueue_incidents(self, rounds: Sequence[RoundStart]) -> None:
        """Enqueue incident rounds in one system-database transaction (ids already used attach).

        An alert storm opens hundreds of incidents within a second: one by one, each enqueue
        was a transaction of its own (a thread hop, a commit, an fsync on SQLite) and cost
        about four times the CPU of its share of one transaction. All or none are enqueued;
        the caller retries one by one to find the one that failed.
        """
        prepared = []
        for start in rounds:
            # each round's span: the webhook that brought the change, through this enqueue
            with span("warroom.workflow.enqueue", start.trace_parent,
                      incident_id=start.incident_id, workflow_id=start.workflow_id):
                prepared.append((self._options(start.workflow_id), start.incident_id))

        def insert_all() -> None:
            with self._batch_engine.begin() as conn:
                for options, incident_id in prepared:
                    self._client.enqueue_in_transaction(conn, options, incident_id)

        await asyncio.to_thread(insert_all)

    async def send(
        self, workflow_id: str, message: dict[str, Any], *, idempotency_key: str | None = None
    ) -> bool:
        """Deliver a message to a workflow's mailbox; False when the workflow does not exist yet.

        Messages only wake a workflow: it reads the approvals from the database before every
        wait, so one that starts after the message was refused still sees what was committed.
        """
        # lazy: cold import cost (python -X importtime): dbos ~1200 ms, warroom.workflow.incident
        # ~483 ms (pulls dbos, prometheus_client); kept off the module's import path
        from dbos import error

        from warroom.workflow.incident import TOPIC

        try:
            await self._client.send_async(
                workflow_id, message, TOPIC, idempotency_key=idempotency_key
            )
        except error.DBOSNonExistentWorkflowError:
            return False
        return True

    async def answered(
        self, workflow_id: str, *, verdict: str, approver: str, approval_id: int
    ) -> None:
        """Wake the decision workflow waiting on `workflow_id` (the decisions `ApprovalWaker`)."""
        # lazy: cold import cost (python -X importtime): warroom.workflow.steps ~84 ms (pulls
        # prometheus_client); kept off the module's import path
        from warroom.workflow.steps import act_workflow_id

        await self.send(
            act_workflow_id(workflow_id),
            {"type": "approval", "verdict": verdict, "approver": approver},
            idempotency_key=f"approval:{approval_id}",
        )

    async def status(self, workflow_id: str) -> str | None:
        """Return a workflow's DBOS status (PENDING, ENQUEUED, SUCCESS, ERROR...), if it exists."""
        # lazy: cold import cost (python -X importtime): dbos ~1200 ms; kept off the module's import
        # path
        from dbos import error

        try:
            handle: Any = await self._client.retrieve_workflow_async(workflow_id)
        except error.DBOSNonExistentWorkflowError:
            return None
        return str((await handle.get_status()).status)

    async def failures(self, workflow_ids: Sequence[str]) -> dict[str, str]:
        """Return, of these workflows, each one DBOS will run no more (ERROR, or out of
        recovery attempts) with why, in one query; running, done or unknown ones are left out."""
        if not workflow_ids:
            return {}
        found = await self._client.list_workflows_async(
            workflow_ids=list(workflow_ids), status=sorted(_FAILED_FOR_GOOD), load_input=False)
        return {s.workflow_id: f"{type(s.error).__name__}: {s.error}" if s.error else str(
            s.status) for s in found}

    def close(self) -> None:
        """Release the client's connections."""
        self._client.destroy()
        self._batch_engine.dispose()
