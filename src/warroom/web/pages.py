"""The dashboard's pages: incidents, one incident (with approve/reject), playbooks, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from warroom.access.deps import Approver
from warroom.access.middleware import CSP
from warroom.access.models import Role
from warroom.decisions import repository as decision_repository
from warroom.decisions.approvals import answer_decision
from warroom.decisions.endpoints import Waker
from warroom.decisions.models import (
    ApprovalForbidden,
    ApprovalRefused,
    ApprovalRequest,
    DecisionNotFound,
)
from warroom.i18n.service import _, activate, activate_timezone, ngettext
from warroom.ingest.details import DetailProviders
from warroom.store.deps import AppSettings, DbSession, Sessions
from warroom.web import data
from warroom.web.format import FILTERS, GLOBALS


async def speak(settings: AppSettings) -> None:
    """Activate the people's language and time zone from the app's settings for this request.

    A dependency of every router that renders pages (async, so it runs in the request's own
    task and the handler sees what it activated)."""
    activate(settings.language)
    activate_timezone(settings.timezone)


router = APIRouter(include_in_schema=False, dependencies=[Depends(speak)])
_PACKAGE = Path(str(files("warroom.web")))
_STATIC = {"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8"}
MAX_FORM_BYTES = 64 * 1024

env = Environment(
    loader=FileSystemLoader(_PACKAGE / "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
)
# {% trans %} and _() in templates speak the language activated for the request (see render)
env.install_gettext_callables(gettext=_, ngettext=ngettext, newstyle=True)  # type: ignore[attr-defined]
env.filters.update(FILTERS)
env.globals.update(GLOBALS)


def render(name: str, status_code: int = 200, *, request: Request | None = None,
           **context: Any) -> HTMLResponse:
    """Render a template as an HTML response with the dashboard's security headers.

    With `request`, the page knows who is signed in (`who`, `signed_in` and its `csrf` token).
    It speaks the language `speak`, a dependency of the page routers, activated.
    """
    context.setdefault("now", datetime.now(UTC))
    if request is not None:
        signed_in = getattr(request.state, "signed_in", None)
        context.setdefault("who", getattr(request.state, "identity", None))
        context.setdefault("signed_in", signed_in)
        context.setdefault("csrf", signed_in.csrf if signed_in else "")
        context.setdefault("may_answer", context["who"] is not None
                           and context["who"].role.allows(Role.approver))
    html = env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={
        "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
    })


@router.get("/web/static/{name}")
async def static(name: str) -> Response:
    """Serve the dashboard's one stylesheet and one script from the package."""
    if name not in _STATIC:
        raise HTTPException(404, f"no static file {name!r}")
    body = (_PACKAGE / "static" / name).read_bytes()
    return Response(body, media_type=_STATIC[name],
                    headers={"Cache-Control": "public, max-age=300"})


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, session: DbSession) -> HTMLResponse:
    """Show open incidents, most urgent first, then the latest resolved ones."""
    return render("index.html", request=request, board=await data.dashboard(session),
                  page="incidents")


async def _incident(request: Request, session: DbSession, providers: DetailProviders,
                    incident_id: str, *,
                    error: str | None = None, form: dict[str, str] | None = None,
                    notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    page = await data.incident_page(providers, session, incident_id)
    if page is None:
        return render("not_found.html", 404, request=request,
                      what=_("incident {id}").format(id=incident_id),
                      page="incidents")
    return render("incident.html", status_code, request=request, p=page, error=error,
                  form=form or {}, notice=notice, page="incidents")


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
async def incident(
    incident_id: str, request: Request, session: DbSession, providers: DetailProviders,
    answered: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """Show one incident: signals, hypotheses, the decision package, the timeline, the forms."""
    notice = {"approve": _("Your approval was recorded."),
              "reject": _("Your rejection was recorded.")}.get(answered or "")
    return await _incident(request, session, providers, incident_id, notice=notice)


async def read_form(request: Request) -> dict[str, str]:
    """Return a posted form's fields (first value of each), refusing one over 64 KiB."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, f"form over {MAX_FORM_BYTES} bytes")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items() if v}


def cross_site(request: Request) -> str | None:
    """Say why a form post came from another site (a forged approval), or None when it did not."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        return _("the form was posted from another site")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        return _("the form was posted from {origin}, not from this dashboard").format(
            origin=origin)
    return None


def _validation_text(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


@router.post("/incidents/{incident_id}/decisions/{token}/{verdict}", response_class=HTMLResponse)
async def answer(
    incident_id: str, token: str, verdict: Literal["approve", "reject"], request: Request,
    sessions: Sessions, who: Approver, waker: Waker, providers: DetailProviders,
) -> Response:
    """Approve or reject as the signed-in identity through the one approval flow, then show
    the incident again."""
    refused = cross_site(request)
    if refused is not None:
        raise HTTPException(403, f"not recorded: {refused}")
    form = await read_form(request)
    form["_verdict"] = verdict
    error: str | None = None
    status_code = 200
    try:
        body = ApprovalRequest(comment=form.get("comment", ""), via="web")
        async with sessions() as session:
            decision = await decision_repository.get(session, token)
        if decision is not None and decision.incident_id != incident_id:
            raise HTTPException(404, f"decision {token} belongs to another incident")
        await answer_decision(sessions, token, body, verdict, approver=who, waker=waker)
    except (DecisionNotFound, ApprovalRefused) as exc:
        error = str(exc)
        status_code = 404 if isinstance(exc, DecisionNotFound) else (
            403 if isinstance(exc, ApprovalForbidden) else 409)
    except ValidationError as exc:
        error, status_code = _validation_text(exc), 422
    except HTTPException as exc:
        error, status_code = str(exc.detail), exc.status_code
    if error is None:
        return RedirectResponse(
            f"/incidents/{quote(incident_id, safe='')}?answered={verdict}", status_code=303)
    async with sessions() as session:
        return await _incident(request, session, providers, incident_id, error=error, form=form,
                               status_code=status_code)


@router.get("/playbooks", response_class=HTMLResponse)
async def playbooks(request: Request, session: DbSession, settings: AppSettings
                    ) -> HTMLResponse:
    """Show the learned trust of every (fault, action) playbook."""
    return render("playbooks.html", request=request, playbooks=await data.playbooks(session),
                  threshold=settings.trust_threshold, page="playbooks")


@router.get("/audit", response_class=HTMLResponse)
async def audit_trail(
    request: Request,
    session: DbSession,
    incident: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> HTMLResponse:
    """Show the audit trail, newest first, and whether its hash chain verifies."""
    page = await data.audit_page(session, incident_id=incident, offset=offset, limit=limit)
    return render("audit.html", request=request, a=page, incident=incident, page="audit")
