"""What the other contexts add to an incident: the detail providers the composition root
registered (the debate, the decision and its timeline), merged for the API and the dashboard."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from warroom.http.errors import database_unavailable
from warroom.store.deps import NotWired

log = structlog.get_logger(__name__)

DetailProvider = Callable[[AsyncSession, str], Awaitable[dict[str, Any]]]


def get_detail_providers() -> list[DetailProvider]:
    """The app's incident detail providers; the composition root binds them."""
    raise NotWired("the incident detail providers")


DetailProviders = Annotated[list[DetailProvider], Depends(get_detail_providers)]


async def incident_details(
    providers: list[DetailProvider], session: AsyncSession, incident_id: str
) -> tuple[dict[str, Any], list[str]]:
    """Merge every provider's dict; a failing provider is named in the list, not raised.

    A database outage is raised: the caller answers 503 rather than a partial page.
    """
    details: dict[str, Any] = {}
    unavailable: list[str] = []
    for provider in list(providers):
        try:
            details.update(await provider(session, incident_id))
        except Exception as exc:
            if database_unavailable(exc):
                raise
            log.exception("api.detail_provider_failed", provider=repr(provider))
            unavailable.append(f"{getattr(provider, '__name__', provider)!s}: {exc}")
    return details, unavailable
