"""The FastAPI application: ingestion, incidents, audit, and the hooks other contexts plug into.

Extension points on `app.state` (append to them in `create_app` or before start-up):
- `listeners`: `IncidentListener`s told after each ingest commit which incidents changed.
- `incident_detail_providers`: `async (session, incident_id) -> dict` merged into
  `GET /api/v1/incidents/{id}`.
- `lifespan_hooks`: `(app) -> AsyncContextManager` factories entered after migration, in order,
  and exited in reverse at shutdown (the workflow worker, the sandbox).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from importlib.metadata import version
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from warroom.access.app import install as install_access
from warroom.access.directory import UserDirectory
from warroom.agents.service import incident_detail as debate_detail
from warroom.api import errors, system
from warroom.config import Settings, get_settings
from warroom.ingest import endpoints as ingest_endpoints
from warroom.ingest.committer import GroupCommitter
from warroom.ingest.models import IngestResult
from warroom.ingest.ports import IncidentListener
from warroom.notify.app import install as install_notify
from warroom.observe.endpoints import router as metrics_router
from warroom.observe.tracing import configure_tracing
from warroom.stats import endpoints as stats_endpoints
from warroom.store.db import make_engine, make_sessionmaker, wal_checkpointer
from warroom.store.migrate import upgrade
from warroom.web import router as web_router
from warroom.workflow.app import install as install_workflow

DetailProvider = Callable[[AsyncSession, str], Awaitable[dict[str, Any]]]
LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate, start the registered hooks, and undo it all at shutdown."""
    await upgrade(app.state.engine)
    try:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(wal_checkpointer(app.state.engine))
            for hook in list(app.state.lifespan_hooks):
                await stack.enter_async_context(hook(app))
            # exits first: queued alerts are stored and listeners told while hooks still run
            stack.push_async_callback(app.state.ingest_committer.aclose)
            yield
    finally:
        if app.state.owns_engine:
            await app.state.engine.dispose()


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


def create_app(settings: Settings | None = None, *, engine: AsyncEngine | None = None) -> FastAPI:
    """Build the app; it migrates the database on start. Pass `engine` to share one (tests)."""
    settings = settings or get_settings()
    configure_tracing(settings)  # once per process; nothing unless an OTLP endpoint is set
    app = FastAPI(
        title="warroom",
        version=version("warroom"),
        description="Self-hosted incident response for Kubernetes and Prometheus.",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.owns_engine = engine is None
    app.state.engine = engine or make_engine(settings.effective_database_url)
    app.state.sessions = make_sessionmaker(app.state.engine)
    listeners: list[IncidentListener] = []
    detail_providers: list[DetailProvider] = []
    lifespan_hooks: list[LifespanHook] = []
    app.state.listeners = listeners
    app.state.incident_detail_providers = detail_providers
    app.state.lifespan_hooks = lifespan_hooks
    app.state.embedded_worker = settings.embedded_worker
    app.state.ingest_committer = GroupCommitter(
        lambda: app.state.sessions, settings, lambda: app.state.listeners
    )

    errors.install(app)
    app.include_router(system.router)
    app.include_router(ingest_endpoints.router)
    # other contexts' routers, listeners, detail providers and lifespan hooks go below
    install_workflow(app)
    # chat cards and callbacks; chat users are looked up among the access context's users
    install_notify(app, directory=UserDirectory(app.state.sessions))
    app.state.incident_detail_providers.append(debate_detail)  # evidence, turns, package
    app.include_router(web_router)  # the dashboard and the event stream
    app.include_router(metrics_router)  # /metrics, public like /healthz
    app.include_router(stats_endpoints.router)  # /api/v1/stats/...
    install_access(app, settings)  # tokens, sign-in, and the gate in front of every route
    _install_openapi(app)
    return app
