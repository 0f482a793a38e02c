"""What the other contexts add to an incident: the registered detail providers, merged."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.api.errors import database_unavailable

log = structlog.get_logger(__name__)


async def incident_details(
    app: FastAPI, session: AsyncSession, incident_id: str
) -> tuple[dict[str, Any], list[str]]:
    """Merge every provider's dict; a failing provider is named in the list, not raised.

    A database outage is raised: the caller answers 503 rather than a partial page.
    """
    details: dict[str, Any] = {}
    unavailable: list[str] = []
    for provider in list(app.state.incident_detail_providers):
        try:
            details.update(await provider(session, incident_id))
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("api.detail_provider_failed", provider=repr(provider))
            unavailable.append(f"{getattr(provider, '__name__', provider)!s}: {exc}")
    return details, unavailable
