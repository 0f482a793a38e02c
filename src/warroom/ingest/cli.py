"""`warroom incidents list|show`: read the incidents straight from the database.

`show` ends with the incident's timeline when the command line hands one in: the timeline
reads the decisions and the workflow, above ingest, so `warroom.cli` wires it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
# (session, incident_id) -> the incident's rendered timeline
TimelineText = Callable[["AsyncSession", str], Awaitable[str]]
incidents = typer.Typer(help="Incidents from the configured database.", no_args_is_help=True)


def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from warroom.config import get_settings
    from warroom.store.db import make_engine, make_sessionmaker
    from warroom.store.migrate import upgrade

    async def run() -> T:
        engine = make_engine(get_settings().effective_database_url)
        try:
            await upgrade(engine)
            async with make_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _when(value: object) -> str:
    return str(value)[:19] if value else "-"


@incidents.command("list")
def list_(
    status: str = typer.Option(None, help="open | resolved"),
    priority: str = typer.Option(None, help="P0..P3"),
    service: str = typer.Option(None),
    limit: int = typer.Option(50, min=1, max=500),
    offset: int = typer.Option(0, min=0),
) -> None:
    """Show incidents, newest first."""
    from rich.console import Console
    from rich.table import Table

    from warroom.ingest import repository

    items, total = _with_session(
        lambda s: repository.list_incidents(
            s, status=status, priority=priority, service=service, limit=limit, offset=offset
        )
    )
    table = Table(title=f"incidents {offset + 1 if items else 0}-{offset + len(items)} of {total}")
    table.add_column("id", no_wrap=True)
    for column in ("status", "priority", "namespace", "service", "title", "opened"):
        table.add_column(column)
    for i in items:
        table.add_row(
            i.id, i.status, i.priority, i.namespace, i.service, i.title, _when(i.opened_at)
        )
    Console().print(table)


def show(incident_id: str) -> None:
    """Show one incident and its signals."""
    _show(incident_id, timeline=None)


def _show(incident_id: str, *, timeline: TimelineText | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from warroom.ingest import repository
    from warroom.store.tables import Incident, Signal

    async def load(session: AsyncSession) -> tuple[Incident | None, list[Signal]]:
        found = await repository.get_incident(session, incident_id)
        return found, (await repository.list_signals(session, incident_id) if found else [])

    incident, signals = _with_session(load)
    if incident is None:
        typer.echo(f"no incident {incident_id!r}", err=True)
        raise typer.Exit(1)
    console = Console()
    console.print(
        f"[bold]{incident.title or incident.group_key}[/bold]\n"
        f"id {incident.id}  status {incident.status}  priority {incident.priority}\n"
        f"namespace {incident.namespace or '-'}  service {incident.service or '-'}  "
        f"group {incident.group_key}\n"
        f"opened {_when(incident.opened_at)}  last signal {_when(incident.last_signal_at)}  "
        f"resolved {_when(incident.resolved_at)}"
    )
    table = Table(title=f"{len(signals)} signal(s)")
    table.add_column("fingerprint", no_wrap=True)
    for column in ("alertname", "severity", "status", "received", "starts", "ends"):
        table.add_column(column)
    for s in signals:
        table.add_row(
            s.fingerprint,
            s.alertname,
            s.severity,
            s.status,
            str(s.receive_count),
            _when(s.starts_at),
            _when(s.ends_at),
        )
    console.print(table)
    if timeline is not None:
        console.print(_with_session(lambda s: timeline(s, incident_id)), markup=False,
                      soft_wrap=True)


def register(app: typer.Typer, *, timeline: TimelineText | None = None) -> None:
    """Add `incidents` to the warroom command; `show` prints `timeline`'s text when given."""

    @functools.wraps(show)
    def show_command(**options: Any) -> None:
        _show(**options, timeline=timeline)

    incidents.command("show")(show_command)
    app.add_typer(incidents, name="incidents")
