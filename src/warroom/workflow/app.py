"""Wire the workflow into the web app: listener, routes, incident detail, embedded worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.config import Settings
from warroom.workflow.runtime import Runtime


def install(app: FastAPI, *, runtime: Runtime | None = None) -> None:
    """Add the decision and playbook routes, the listener, the timeline and the worker hook."""
    from warroom.decisions.endpoints import router as decisions_router
    from warroom.learn.endpoints import router as playbooks_router

    app.include_router(decisions_router)
    app.include_router(playbooks_router)
    app.state.workflow_runtime = runtime
    app.state.incident_detail_providers.append(incident_detail)
    app.state.lifespan_hooks.append(workflow_lifespan)


async def incident_detail(session: AsyncSession, incident_id: str) -> dict[str, Any]:
    """Return the incident's latest decision and its ordered timeline for the detail endpoint."""
    from warroom.workflow.timeline import build_timeline, latest_decision

    return {
        "decision": await latest_decision(session, incident_id),
        "timeline": await build_timeline(session, incident_id),
    }


@asynccontextmanager
async def workflow_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Connect the app to the workflow engine, and run the worker in-process unless told not to."""
    from warroom.workflow import engine
    from warroom.workflow.listener import WorkflowListener

    settings: Settings = app.state.settings
    runtime: Runtime = app.state.workflow_runtime or Runtime(settings)
    embedded = settings.embedded_worker
    if embedded:
        await engine.launch_async(runtime)  # creates the system tables, resumes open workflows
    else:
        await asyncio.to_thread(engine.migrate_system_database, settings)
    client = await asyncio.to_thread(engine.WorkflowClient, settings)
    app.state.workflow_client = client
    listener = WorkflowListener(app.state.sessions, client)
    app.state.listeners.append(listener)
    try:
        yield
    finally:
        app.state.listeners.remove(listener)
        await asyncio.to_thread(client.close)
        if embedded:
            await engine.shutdown_async()
