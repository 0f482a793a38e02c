"""Stats API: `/api/v1/stats/...`, each over a time range, filterable by namespace and service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from warroom.stats import service
from warroom.stats.models import (
    AiStats,
    IncidentStats,
    PlaybookStats,
    ResolutionStats,
    ServiceStats,
    StatsRange,
    StatsReport,
)
from warroom.store.deps import DbSession

router = APIRouter(prefix="/api/v1/stats", tags=["stats"])


def stats_range(
    days: Annotated[float, Query(gt=0, le=3660, description="the last N days (default 7)")]
    = service.DEFAULT_DAYS,
    since: Annotated[datetime | None, Query(description="start, ISO 8601 (overrides days)")]
    = None,
    until: Annotated[datetime | None, Query(description="end, ISO 8601 (default: now)")] = None,
    namespace: Annotated[str | None, Query(max_length=253)] = None,
    service_: Annotated[str | None, Query(alias="service", max_length=253)] = None,
) -> StatsRange:
    """Build the range from the query string; a bad one is a 422 naming the parameter."""
    try:
        return service.stats_range(days=days, since=since, until=until, namespace=namespace,
                                   service=service_)
    except service.RangeError as exc:
        raise HTTPException(422, str(exc)) from exc


Range = Annotated[StatsRange, Depends(stats_range)]


@router.get("")
async def all_stats(session: DbSession, q: Range) -> StatsReport:
    """Return every figure of the range at once (what `warroom stats` prints)."""
    return await service.report(session, q)


@router.get("/incidents")
async def incidents(session: DbSession, q: Range) -> IncidentStats:
    """Count incidents by status, priority, fault class and team, and opened/resolved per day."""
    return await service.incidents(session, q)


@router.get("/resolution")
async def resolution(session: DbSession, q: Range) -> ResolutionStats:
    """Return time to acknowledge, decision, execution and recovery (MTTR), with the trend."""
    return await service.resolution(session, q)


@router.get("/ai")
async def ai(session: DbSession, q: Range) -> AiStats:
    """Return decisions by outcome, verification success, overrides and agent latency."""
    return await service.ai(session, q)


@router.get("/services")
async def services(
    session: DbSession, q: Range,
    limit: Annotated[int, Query(ge=1, le=100)] = service.TOP_SERVICES,
) -> ServiceStats:
    """Return the most affected services by incident count and by time in incident."""
    return await service.services(session, q, limit=limit)


@router.get("/playbooks")
async def playbooks(session: DbSession, q: Range) -> PlaybookStats:
    """Return every playbook's trust over the range, one point per day it learned."""
    return await service.playbooks(session, q)
