"""HTTP endpoints of ingestion: the webhooks in, the incidents out."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from warroom.config import Settings
from warroom.http.body import BodyError, parse, read_limited
from warroom.http.errors import database_unavailable, unavailable_response
from warroom.ingest import repository
from warroom.ingest.committer import GroupCommitter
from warroom.ingest.details import DetailProviders, incident_details
from warroom.ingest.models import (
    AlertmanagerWebhook,
    GenericAlertBatch,
    IncidentDetail,
    IncidentPage,
    IncidentStatus,
    IncidentView,
    Priority,
    SignalView,
)
from warroom.ingest.normalize import (
    AlertRecord,
    affected_services,
    from_alertmanager,
    from_generic,
)
from warroom.observe.metrics import ACK_SECONDS, ALERTS, DATABASE_ERRORS, WEBHOOKS
from warroom.observe.tracing import span
from warroom.store.deps import AppSettings, DbSession, NotWired

log = structlog.get_logger(__name__)
router = APIRouter(tags=["ingest"])

# the request models documented in OpenAPI (the bodies are read by hand: see http/body.py)
REQUEST_MODELS: tuple[type[BaseModel], ...] = (AlertmanagerWebhook, GenericAlertBatch)


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
        "responses": {
            "202": {
                "description": "stored and committed",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}
                },
            },
            "400": {"description": "the body is empty or not JSON"},
            "413": {"description": "the body is over `max_body_bytes`"},
            "422": {"description": "invalid fields, each named by its JSON path"},
            "503": {"description": "the database is unavailable; nothing was stored, retry"},
        },
    }


def get_committer() -> GroupCommitter:
    """The app's group committer; the composition root binds it."""
    raise NotWired("the ingest committer")


Committer = Annotated[GroupCommitter, Depends(get_committer)]


async def _ingest(
    committer: GroupCommitter, source: str, started: float, records: list[AlertRecord]
) -> Response:
    """Store the alerts through the app's group committer; 202 only after the commit."""
    try:
        result = await committer.submit(records)
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("ingest.database_unavailable", error=str(exc))
            WEBHOOKS.labels(source, "503").inc()
            DATABASE_ERRORS.labels("ingest").inc()
            return unavailable_response(exc)
        WEBHOOKS.labels(source, "500").inc()
        raise
    firing = sum(1 for r in records if r.status == "firing")
    ALERTS.labels(source, "firing").inc(firing)
    ALERTS.labels(source, "resolved").inc(len(records) - firing)
    WEBHOOKS.labels(source, "202").inc()
    ACK_SECONDS.labels(source).observe(time.perf_counter() - started)
    return Response(
        orjson.dumps(result.model_dump(mode="json")),
        status_code=202,
        media_type="application/json",
    )


async def _receive(
    request: Request, settings: Settings, committer: GroupCommitter, source: str,
    read: Callable[[bytes], list[AlertRecord]],
) -> Response:
    """Read, validate and store one webhook, counting it whatever the answer."""
    started = time.perf_counter()
    with span("warroom.ingest.webhook", source=source) as current:
        try:
            records = read(await read_limited(request, settings.max_body_bytes))
        except BodyError as exc:
            WEBHOOKS.labels(source, str(exc.status)).inc()
            raise
        current.set_attribute("alerts", len(records))
        return await _ingest(committer, source, started, records)


@router.post(
    "/api/v1/alerts/alertmanager",
    status_code=202,
    summary="Receive an Alertmanager webhook (version 4)",
    openapi_extra=_body_doc(AlertmanagerWebhook),
)
async def receive_alertmanager(request: Request, settings: AppSettings, committer: Committer
                               ) -> Response:
    """Store the webhook's alerts; 202 once committed, with the incidents they touched."""
    return await _receive(
        request, settings, committer, "alertmanager",
        lambda body: from_alertmanager(parse(AlertmanagerWebhook, body)),
    )


@router.post(
    "/api/v1/alerts",
    status_code=202,
    summary="Receive generic JSON alerts from any source",
    openapi_extra=_body_doc(GenericAlertBatch),
)
async def receive_generic(request: Request, settings: AppSettings, committer: Committer
                          ) -> Response:
    """Store generic alerts (the shape in docs/api.md); 202 once committed."""
    return await _receive(
        request, settings, committer, "generic",
        lambda body: from_generic(parse(GenericAlertBatch, body), datetime.now(UTC)),
    )


@router.get("/api/v1/incidents", response_model=IncidentPage, summary="List incidents")
async def list_incidents(
    session: DbSession,
    status: IncidentStatus | None = None,
    priority: Priority | None = None,
    severity: Annotated[str | None, Query(description="incidents with a signal of it")] = None,
    service: str | None = None,
    namespace: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> IncidentPage:
    """Return incidents, newest first, filtered and paginated."""
    items, total = await repository.list_incidents(
        session,
        status=status,
        priority=priority,
        severity=severity,
        service=service,
        namespace=namespace,
        limit=limit,
        offset=offset,
    )
    return IncidentPage(
        total=total,
        limit=limit,
        offset=offset,
        items=[IncidentView.model_validate(i) for i in items],
    )


@router.get(
    "/api/v1/incidents/{incident_id}",
    response_model=IncidentDetail,
    summary="Show one incident with its signals and everything known about it",
    responses={404: {"description": "no such incident"}},
)
async def show_incident(incident_id: str, session: DbSession, providers: DetailProviders
                        ) -> Response:
    """Return the incident, its signals, and what the registered detail providers add."""
    incident = await repository.get_incident(session, incident_id)
    if incident is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    signals = await repository.list_signals(session, incident_id)
    body: dict[str, Any] = IncidentView.model_validate(incident).model_dump(mode="json")
    body["signals"] = [SignalView.model_validate(s).model_dump(mode="json") for s in signals]
    body["services"] = affected_services(incident.service, [s.labels for s in signals])
    details, unavailable = await incident_details(providers, session, incident_id)
    body.update(details)
    if unavailable:
        body["unavailable"] = unavailable
    return Response(orjson.dumps(body), media_type="application/json")
