"""`GET /metrics`: this process's Prometheus metrics and the database gauges (public, like
`/healthz`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from warroom.observe import repository
from warroom.observe.collector import render
from warroom.observe.metrics import DATABASE_ERRORS
from warroom.observe.models import DatabaseGauges
from warroom.store.deps import Sessions

router = APIRouter(tags=["system"])

# a scrape never waits longer than this for the database gauges (Prometheus times out at 10 s)
GAUGE_TIMEOUT_SECONDS = 2.0


async def _gauges(sessions: Sessions) -> DatabaseGauges | None:
    try:
        async with sessions() as session:
            return await asyncio.wait_for(
                repository.read_gauges(session), GAUGE_TIMEOUT_SECONDS
            )
    except Exception:  # the metrics say the database is down; the scrape still answers
        DATABASE_ERRORS.labels(where="metrics").inc()
        return None


@router.get(
    "/metrics",
    summary="Prometheus metrics of this warroom process",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}},
)
async def metrics(sessions: Sessions) -> Response:
    """Answer the Prometheus text format: counters of this process, gauges read from the DB."""
    body = render(await _gauges(sessions))
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
