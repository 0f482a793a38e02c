"""Health and audit endpoints."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import text

from warroom.http.errors import database_unavailable, unavailable_response
from warroom.ingest.models import UtcDatetime
from warroom.store import audit
from warroom.store.deps import DbSession, Sessions

router = APIRouter(tags=["system"])


@router.get(
    "/healthz",
    summary="Liveness and database check",
    responses={503: {"description": "the database does not answer"}},
)
async def healthz(sessions: Sessions) -> Response:
    """Answer 200 when the database answers a query, 503 otherwise."""
    try:
        async with sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        if database_unavailable(exc):
            return unavailable_response(exc)
        raise
    return Response(orjson.dumps({"status": "ok", "database": "ok"}), media_type="application/json")


class AuditEventView(BaseModel):
    seq: int
    at: UtcDatetime
    kind: str
    actor: str
    incident_id: str | None
    decision_token: str | None
    session_id: str | None
    payload: dict[str, Any]
    prev_hash: str
    hash: str


class ChainView(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None


class AuditPage(BaseModel):
    events: list[AuditEventView]
    chain: ChainView | None


@router.get("/api/v1/audit", response_model=AuditPage, summary="Read the audit trail")
async def read_audit(
    session: DbSession,
    incident_id: str | None = None,
    decision_token: str | None = None,
    kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
    verify: Annotated[bool, Query(description="re-compute the whole hash chain")] = True,
) -> AuditPage:
    """Return audit rows in chain order and, unless `verify=false`, the chain's verdict."""
    rows = await audit.list_events(
        session,
        incident_id=incident_id,
        decision_token=decision_token,
        kind=kind,
        limit=limit,
        offset=offset,
    )
    events = [
        AuditEventView(
            seq=r.seq,
            at=r.at,
            kind=r.kind,
            actor=r.actor,
            incident_id=r.incident_id,
            decision_token=r.decision_token,
            session_id=r.session_id,
            payload=r.payload,
            prev_hash=r.prev_hash,
            hash=r.hash,
        )
        for r in rows
    ]
    chain = ChainView(**asdict(await audit.verify_chain(session))) if verify else None
    return AuditPage(events=events, chain=chain)
