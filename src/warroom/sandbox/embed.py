"""Run warroom on the sandbox: point its settings at the sandbox and host it in the web app.

    settings, runtime = prepare(settings)      # before create_app: the port is reserved
    app = create_app(settings)
    install(app, runtime)                       # lifespan hook + /api/v1/sandbox/faults

Sensors then read the sandbox's Kubernetes API (through the written kubeconfig) and its
Prometheus API, the executor acts through the same Kubernetes API (shadow mode off), and the
sandbox posts its Alertmanager webhooks to warroom's own ingest endpoint.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

from warroom.access import service as access
from warroom.access.deps import require
from warroom.access.models import Role
from warroom.api.app import container_of
from warroom.config import Settings
from warroom.sandbox.faults import FaultError
from warroom.sandbox.runtime import SandboxRuntime
from warroom.sandbox.shop import topology_edges
from warroom.store.db import transaction


class FaultRequest(BaseModel):
    """A fault to inject: its class, and optionally the target and how hard it bites."""

    fault: str
    service: str | None = None
    namespace: str | None = None
    severity: float = Field(default=0.8, gt=0, le=1)
    onset_seconds: float = Field(default=0.0, ge=0)


def service_map() -> dict[str, list[str]]:
    """Return the sandbox shop's dependency graph as a `service_map` setting."""
    graph: dict[str, list[str]] = {}
    for caller, callee in topology_edges():
        graph.setdefault(caller, []).append(callee)
    return graph


def prepare(settings: Settings, *, webhook_url: str | None = None,
            shadow_mode: bool = False) -> tuple[Settings, SandboxRuntime]:
    """Reserve the sandbox's port and return settings that point warroom at it."""
    runtime = SandboxRuntime(settings, webhook_url=webhook_url)
    runtime.reserve()
    pointed = settings.model_copy(update={
        "kubeconfig": str(runtime.kubeconfig_path),
        "prometheus_url": runtime.url,
        "shadow_mode": shadow_mode,
        "sandbox_url": settings.sandbox_url or f"http://{settings.host}:{settings.port}",
        # the shop's call graph, as tracing would report it, groups its cascades
        "service_map": settings.service_map or service_map(),
    })
    runtime.settings = pointed
    return pointed, runtime


def router(runtime: SandboxRuntime) -> APIRouter:
    """Return the fault-injection endpoints for warroom's own API."""
    routes = APIRouter(prefix="/api/v1/sandbox", tags=["sandbox"])

    @routes.get("/faults", summary="List the faults injected into the sandbox")
    async def list_faults() -> dict[str, Any]:
        return {"faults": runtime.faults(), "now": runtime.sandbox.now.isoformat(),
                "sandbox": runtime.url}

    @routes.post("/faults", status_code=201, summary="Inject a fault into the sandbox (admin)",
                 dependencies=[Depends(require(Role.admin))])
    async def inject(body: FaultRequest) -> dict[str, Any]:
        try:
            return runtime.inject(body.fault, service=body.service, namespace=body.namespace,
                                  severity=body.severity, onset_seconds=body.onset_seconds)
        except FaultError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from exc

    @routes.get("/alerts", summary="List the sandbox's firing alerts")
    async def alerts(request: Request) -> dict[str, Any]:
        return {"firing": runtime.sandbox.firing()}

    return routes


def install(app: FastAPI, runtime: SandboxRuntime) -> None:
    """Start and stop the sandbox with the app, and mount its fault endpoints."""
    app.include_router(router(runtime))
    container = container_of(app)

    @asynccontextmanager
    async def sandbox_lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the Kubernetes client is slow to import: pay it now, not in the first sensor run
        await asyncio.to_thread(importlib.import_module, "kubernetes_asyncio.client")
        # the sandbox's alerts reach the ingest endpoint with a token of their own, revoked
        # when the sandbox stops
        async with transaction(container.sessions) as session:
            token = await access.create_token(
                session, name="sandbox", role=Role.viewer, days=1, actor="warroom",
                description="the embedded sandbox's alerts")
        runtime.webhook_headers = {"Authorization": f"Bearer {token.token}"}
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()
            async with transaction(container.sessions) as session:
                await access.revoke_token(session, token_id=token.id, actor="warroom")

    # first in, so the sandbox is up before the worker senses anything, and stops last
    container.lifespan_hooks.insert(0, sandbox_lifespan)
