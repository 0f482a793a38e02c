"""The dashboard's stats page: MTTR, AI performance and affected services, with SVG charts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup

from warroom.i18n.service import _
from warroom.stats import service
from warroom.stats.models import StatsReport, seconds_text
from warroom.store.deps import DbSession
from warroom.web.charts import Bar, Series, bars, lines
from warroom.web.pages import render, speak

router = APIRouter(include_in_schema=False, dependencies=[Depends(speak)])
DAY_CHOICES = (1, 7, 30, 90, 365)
OUTCOME_TONES = {"auto_executed": "bar-ok", "approved": "bar-ok", "rejected": "bar-bad",
                 "expired": "bar-warn", "escalated": "bar-warn", "failed": "bar-bad",
                 "pending": "bar-muted"}


def charts(report: StatsReport) -> dict[str, Markup]:
    """Draw the page's charts from the report."""
    per_day = report.resolution.recovery_per_day
    days = [d.day for d in per_day]
    incidents = report.incidents.per_day
    return {
        "mttr": lines(_("Time to recover per day of opening"), days, [
            Series("P50", [d.recovery.p50 for d in per_day], "p50"),
            Series("P95", [d.recovery.p95 for d in per_day], "p95"),
        ], text=seconds_text),
        "outcomes": bars(_("Decisions by outcome"), [
            Bar(_(c.key.replace("_", " ")), c.count, OUTCOME_TONES.get(c.key, "bar"))
            for c in report.ai.outcomes], text=lambda v: f"{v:.0f}"),
        "services": bars(_("Most affected services by incidents"), [
            Bar(f"{s.namespace}/{s.service}" if s.namespace else s.service, s.incidents)
            for s in report.services.by_count], text=lambda v: f"{v:.0f}"),
        "service_time": bars(_("Most affected services by time in incident"), [
            Bar(f"{s.namespace}/{s.service}" if s.namespace else s.service,
                s.seconds_in_incident, "bar-warn")
            for s in report.services.by_time], text=seconds_text),
        "per_day": lines(_("Incidents opened and resolved per day"), [d.day for d in incidents], [
            Series(_("opened"), [float(d.opened) for d in incidents], "opened"),
            Series(_("resolved"), [float(d.resolved) for d in incidents], "resolved"),
        ], text=lambda v: f"{v:.0f}"),
    }


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(
    request: Request,
    session: DbSession,
    days: Annotated[float, Query(gt=0, le=3660)] = service.DEFAULT_DAYS,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    namespace: Annotated[str | None, Query(max_length=253)] = None,
    service_: Annotated[str | None, Query(alias="service", max_length=253)] = None,
) -> HTMLResponse:
    """Show MTTR, AI performance, affected services and playbook trust over a range."""
    form = {"days": days, "namespace": namespace or "", "service": service_ or "",
            "since": since.isoformat() if since else "",
            "until": until.isoformat() if until else ""}
    try:
        q = service.stats_range(days=days, since=since, until=until, namespace=namespace,
                                service=service_)
    except service.RangeError as exc:
        return render("stats.html", 422, request=request, error=str(exc), form=form, r=None,
                      day_choices=DAY_CHOICES, page="stats")
    report = await service.report(session, q)
    return render("stats.html", request=request, r=report, charts=charts(report), form=form,
                  day_choices=DAY_CHOICES, page="stats", error=None)
