"""Wire the workflow into the web app: listener, routes, incident detail, embedded worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from warroom.config import Settings
from warroom.store.db import make_engine
from warroom.workflow.runtime import Runtime


def install(app: FastAPI, **overrides: Any) -> None:
    """Add the decision and playbook routes, the listener, the timeline and the worker hook.

    `overrides` replace `Runtime` fields (analyzer, sensor_factory, executor_factory) in tests.
    """
    from warroom.decisions.endpoints import router as decisions_router
    from warroom.learn.endpoints import router as playbooks_router

    if getattr(app.state, "workflow_installed", False):
        app.state.workflow_overrides.update(overrides)
        return
    app.state.workflow_installed = True
    app.include_router(decisions_router)
    app.include_router(playbooks_router)
    app.state.workflow_overrides = dict(overrides)
    app.state.incident_detail_providers.append(incident_detail)
    app.state.lifespan_hooks.append(workflow_lifespan)


async def incident_detail(session: AsyncSession, incident_id: str) -> dict[str, Any]:
    """Return the incident's latest decision and its ordered timeline for the detail endpoint."""
    from warroom.workflow.timeline import build_timeline, latest_decision

    return {
        "decision": await latest_decision(session, incident_id),
        "timeline": await build_timeline(session, incident_id),
    }


async def runtime_like(engine: AsyncEngine, settings: Settings) -> Runtime:
    """Return a runtime whose per-loop engines reach the same database (and schema) as `engine`.

    When the app lives in a private PostgreSQL schema and the DBOS schema is left at its
    default, the DBOS system tables go into that schema too, so two warroom instances sharing
    one database never run each other's workflows.
    """
    url = engine.url.render_as_string(hide_password=False)
    kwargs: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            path = str((await conn.execute(text("SHOW search_path"))).scalar_one())
        kwargs["connect_args"] = {"server_settings": {"search_path": path}}
        schema = path.split(",")[0].strip().strip('"')
        if schema not in ("", "public", "$user") and settings.dbos_system_schema == "dbos":
            settings = settings.model_copy(update={"dbos_system_schema": schema})

    def factory(_: Settings) -> AsyncEngine:
        return make_engine(url, **kwargs)

    return Runtime(settings, engine_factory=factory)


@asynccontextmanager
async def workflow_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect the app to the workflow engine, and run the worker in-process unless told not to."""
    from warroom.workflow import engine
    from warroom.workflow.listener import WorkflowListener, adopt_orphans

    runtime = replace(
        await runtime_like(app.state.engine, app.state.settings), **app.state.workflow_overrides
    )
    settings = runtime.settings
    embedded = settings.embedded_worker
    if embedded:
        await engine.launch_async(runtime)  # creates the system tables, resumes open workflows
    else:
        await asyncio.to_thread(engine.migrate_system_database, settings)
    client = await asyncio.to_thread(engine.WorkflowClient, settings)
    app.state.workflow_client = client
    app.state.approval_waker = client
    listener = WorkflowListener(app.state.sessions, client)
    app.state.listeners.append(listener)
    await adopt_orphans(app.state.sessions, listener)
    try:
        yield
    finally:
        app.state.listeners.remove(listener)
        await asyncio.to_thread(client.close)
        if embedded:
            await engine.shutdown_async()
