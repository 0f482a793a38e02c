"""`GET /api/v1/playbooks`: the learned trust of every playbook."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from warroom.learn import service
from warroom.store.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["learn"])


@router.get("/playbooks")
async def list_playbooks(session: DbSession) -> dict[str, Any]:
    """List playbooks (fault class x action type) with their trust, most trusted first."""
    return {"playbooks": await service.list_playbooks(session)}
