"""The composition root: builds the app, the event bus, the workflow runtime and the adapters.

`create_app` builds every long-lived object once, keeps them in one typed `Container`
(`app.state.container`, read only here, by start-up code and by tests) and hands them to the
handlers as FastAPI dependencies: each context declares a provider (`store.deps.get_sessions`,
`web.events.get_bus`, ...) and this module binds it to the app's object in the app's
`dependency_overrides`. Handlers never look anything up on the app.

Extension points on the container (append before start-up):
- `listeners`: `IncidentListener`s told after each ingest commit which incidents changed.
- `incident_detail_providers`: `async (session, incident_id) -> dict` merged into
  `GET /api/v1/incidents/{id}` and the dashboard's incident page.
- `lifespan_hooks`: `(app) -> AsyncContextManager` factories entered after migration, in order,
  and exited in reverse at shutdown (the workflow worker, the sandbox).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from warroom.access import deps as access_deps
from warroom.access.app import install as install_access
from warroom.access.directory import UserDirectory
from warroom.access.middleware import TokenCache
from warroom.agents.events import EventBus, bus_from_settings
from warroom.agents.service import incident_detail as debate_detail
from warroom.api import errors, system
from warroom.config import Settings, get_settings
from warroom.decisions import endpoints as decisions_endpoints
from warroom.decisions.ports import ApprovalWaker
from warroom.ingest import details
from warroom.ingest import endpoints as ingest_endpoints
from warroom.ingest.committer import GroupCommitter
from warroom.ingest.models import IngestResult
from warroom.ingest.ports import IncidentListener
from warroom.learn.endpoints import router as playbooks_router
from warroom.llm.debate import LanguageModels
from warroom.notify import endpoints as notify_endpoints
from warroom.notify.hub import NotifyHub
from warroom.observe.endpoints import router as metrics_router
from warroom.observe.tracing import configure_tracing
from warroom.stats import endpoints as stats_endpoints
from warroom.store import deps as store_deps
from warroom.store.db import (
    eager_writer_engine,
    make_engine,
    make_sessionmaker,
    wal_checkpointer,
)
from warroom.store.migrate import upgrade
from warroom.store.turns import WriteTurns
from warroom.web import events as web_events
from warroom.web import login as web_login
from warroom.web import router as web_router
from warroom.workflow import engine
from warroom.workflow.runtime import runtime_like
from warroom.workflow.timeline import incident_detail as workflow_detail

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


@dataclass
class Container:
    """Everything the app builds once and hands out: one per app, never global."""

    settings: Settings
    engine: AsyncEngine
    owns_engine: bool
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    committer: GroupCommitter
    ingest_engine: AsyncEngine | None  # SQLite: the group commit's own connection
    # SQLite: the order of this process's writers at the one write lock, ingestion first
    turns: WriteTurns | None
    token_cache: TokenCache
    notify: NotifyHub
    # `Runtime` fields (analyzer, sensor_factory, executor_factory) replaced in tests
    runtime_overrides: dict[str, Any] = field(default_factory=dict)
    listeners: list[IncidentListener] = field(default_factory=list)
    incident_detail_providers: list[details.DetailProvider] = field(default_factory=list)
    lifespan_hooks: list[LifespanHook] = field(default_factory=list)
    waker: ApprovalWaker | None = None  # the workflow client, once the app has started
    oidc: Any = None  # the OpenID Connect client, when single sign-on is configured


def container_of(app: FastAPI) -> Container:
    """Return the app's container (start-up code and tests; handlers get dependencies)."""
    built: Container = app.state.container
    return built


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate, start the registered hooks, and undo it all at shutdown."""
    c = container_of(app)
    await upgrade(c.engine)
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(wal_checkpointer(c.engine))
            stack.push_async_callback(c.bus.close)
            for hook in list(c.lifespan_hooks):
                await stack.enter_async_context(hook(app))
            if c.ingest_engine is not None:
                stack.push_async_callback(c.ingest_engine.dispose)
            # exits first: queued alerts are stored and listeners told while hooks still run
            stack.push_async_callback(c.committer.aclose)
            yield
    finally:
        if c.owns_engine:
            await c.engine.dispose()


@asynccontextmanager
async def workflow_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect the app to the workflow engine, and run the worker in-process unless told not to.

    The embedded worker's steps run on DBOS's own event loop; they publish the debate on the
    app's bus, which hands each event to the loop of the stream that subscribed.
    """
    # lazy: cold import cost (python -X importtime): warroom.workflow.listener ~378 ms (pulls dbos);
    # kept off the module's import path
    from warroom.workflow.listener import WorkflowListener, adopt_orphans
    from warroom.workflow.sweeper import sweep_every, sweep_failed

    c = container_of(app)
    runtime = replace(await runtime_like(c.engine, c.settings, bus=c.bus, turns=c.turns),
                      **c.runtime_overrides)
    settings = runtime.settings
    embedded = settings.embedded_worker
    worker = None
    if embedded:
        # creates the system tables, resumes open workflows
        worker = await engine.launch_async(runtime)
    else:
        await asyncio.to_thread(engine.migrate_system_database, settings)
    client = await asyncio.to_thread(engine.WorkflowClient, settings)
    c.waker = c.notify.waker = client
    listener = WorkflowListener(c.sessions, client)
    c.listeners.append(listener)
    await adopt_orphans(c.sessions, listener)
    await sweep_failed(c.sessions, client)
    sweeper = asyncio.create_task(
        sweep_every(c.sessions, client, settings.workflow_sweep_seconds))
    try:
        yield
    finally:
        sweeper.cancel()
        with suppress(asyncio.CancelledError):
            await sweeper
        c.listeners.remove(listener)
        c.waker = c.notify.waker = None
        await asyncio.to_thread(client.close)
        if worker is not None:
            await engine.shutdown_async(worker)


@asynccontextmanager
async def _notify_lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with container_of(app).notify.running():
        yield


def _install_openapi(app: FastAPI) -> None:
    """Document the hand-read request bodies as components of the OpenAPI schema."""

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        models: tuple[type[BaseModel], ...] = (*ingest_endpoints.REQUEST_MODELS, IngestResult)
        for model in models:
            model_schema = model.model_json_schema(
                by_alias=True, ref_template="#/components/schemas/{model}"
            )
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _provide(read: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    """Wrap a getter as a coroutine function: FastAPI runs a plain function in its thread pool,
    a hop to another thread and back (and a turn at the GIL) on every request that needs it."""

    async def provide() -> Any:
        return read()

    return provide


def _bind(app: FastAPI, c: Container) -> None:
    """Bind every context's dependency provider to this app's objects."""
    app.dependency_overrides.update({
        provider: _provide(read) for provider, read in (
            (store_deps.get_settings, lambda: c.settings),
            (store_deps.get_sessions, lambda: c.sessions),
            (web_events.get_bus, lambda: c.bus),
            (ingest_endpoints.get_committer, lambda: c.committer),
            (details.get_detail_providers, lambda: c.incident_detail_providers),
            (notify_endpoints.get_hub, lambda: c.notify),
            (decisions_endpoints.get_waker, lambda: c.waker),
            (access_deps.get_token_cache, lambda: c.token_cache),
            (access_deps.get_oidc, lambda: c.oidc),
        )
    })


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    runtime_overrides: dict[str, Any] | None = None,
) -> FastAPI:
    """Build the app; it migrates the database on start. Pass `engine` to share one (tests).

    `runtime_overrides` replace fields of the workflow `Runtime` (the analyzer in tests).
    """
    settings = settings or get_settings()
    configure_tracing(settings)  # once per process; nothing unless an OTLP endpoint is set
    app = FastAPI(
        title="warroom",
        version=version("warroom"),
        description="Self-hosted incident response for Kubernetes and Prometheus.",
        lifespan=_lifespan,
    )
    owns_engine = engine is None
    engine = engine or make_engine(settings.effective_database_url)
    sessions = make_sessionmaker(engine)
    listeners: list[IncidentListener] = []
    turns = (WriteTurns(max_defer=settings.worker_write_defer_seconds)
             if engine.dialect.name == "sqlite" else None)
    # SQLite: ingestion's own connection, which never sleeps in SQLite's busy handler
    ingest_engine = eager_writer_engine(engine)
    ingest_sessions = make_sessionmaker(ingest_engine) if ingest_engine else sessions
    c = Container(
        settings=settings, engine=engine, owns_engine=owns_engine, sessions=sessions,
        bus=bus_from_settings(settings.redis_url, settings.event_stream_maxlen),
        committer=GroupCommitter(lambda: ingest_sessions, settings, lambda: listeners,
                                 turns=turns),
        ingest_engine=ingest_engine,
        turns=turns,
        token_cache=TokenCache(settings.auth_cache_seconds),
        # chat users are looked up among the access context's users
        notify=NotifyHub(settings, sessions, directory=UserDirectory(sessions)),
        runtime_overrides=dict(runtime_overrides or {}), listeners=listeners,
    )
    app.state.container = c
    _bind(app, c)

    errors.install(app)
    app.include_router(system.router)
    app.include_router(ingest_endpoints.router)
    app.include_router(decisions_endpoints.router)
    app.include_router(playbooks_router)
    app.include_router(notify_endpoints.router)  # chat cards' callbacks
    # the latest decision and the timeline; evidence, turns and the package
    c.incident_detail_providers.extend(
        [workflow_detail, functools.partial(debate_detail, models=LanguageModels())])
    c.lifespan_hooks.extend([workflow_lifespan, _notify_lifespan])
    app.include_router(web_router)  # the dashboard and the event stream
    app.include_router(metrics_router)  # /metrics, public like /healthz
    app.include_router(stats_endpoints.router)  # /api/v1/stats/...
    # sign-in (and its OpenID Connect client), tokens, and the gate in front of every route
    app.include_router(web_login.router)
    c.oidc = web_login.install_oidc(app, settings)
    install_access(app, settings, sessions=sessions, cache=c.token_cache)
    _install_openapi(app)
    return app
