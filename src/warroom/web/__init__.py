"""The web dashboard: server-rendered pages and the event stream that refreshes them.

Mounted on the API app with `app.include_router(warroom.web.router)`.
"""

from fastapi import APIRouter

from warroom.web import events, pages, stats

router = APIRouter()
router.include_router(pages.router)
router.include_router(events.router)
router.include_router(stats.router)

__all__ = ["router"]
